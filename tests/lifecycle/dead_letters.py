"""Dead letters as the subscriber writes them, for the tests that check deletions reach Redis."""

from __future__ import annotations

import time
import uuid

import redis

from services.shared.redis import DEAD_LETTER_STREAM
from services.shared.stream import encode_batch


def add_dead_letter(rds: redis.Redis, project_id: int, write_key: str, user_id: str = "u-1") -> bytes:
    """A dead letter as the subscriber writes one (the entry's fields, then why it was set aside)."""
    now = int(time.time() * 1000)
    entry = encode_batch(project_id, write_key, now, [{
        "messageId": str(uuid.uuid4()), "type": "track", "event": "refused", "userId": user_id, "timestamp": now,
        "properties": {}, "context": {}, "isBot": False}], {})
    letter_id: bytes = rds.xadd(DEAD_LETTER_STREAM, {**entry, b"kind": b"refused", b"reason": b"test",
                                                     b"deliveries": b"5", b"original_id": b"1-0"})
    return letter_id


def dead_letters_of(rds: redis.Redis, project_id: int) -> list[bytes]:
    return [i for i, f in rds.xrange(DEAD_LETTER_STREAM) if f.get(b"p") == str(project_id).encode()]
