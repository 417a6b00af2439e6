"""A stand-in upstream for the gateway's proxy tests: it answers the two internal auth endpoints
the gateway calls (two fixed users, each the owner of one project), echoes every other request back as JSON (so a
test sees exactly what the gateway forwarded), streams Server-Sent Events, and can be slow.

Run: python tests/gateway/echo_upstream.py <port>"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# token -> (userId, sessionId); project id -> owner id
TOKENS = {"alice-token": (7, "s-alice"), "alice-second-token": (7, "s-alice"), "bob-token": (8, "s-bob"),
          "alice-slow-token": (7, "s-alice-slow")}
OWNERS = {1: 7, 2: 8}
state = {"verify_calls": 0, "access_calls": 0, "open_streams": 0}


async def verify(request: Request) -> Response:
    state["verify_calls"] += 1
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if token not in TOKENS:
        return JSONResponse({"error": {"code": "unauthorized", "message": "no", "fields": {}}}, status_code=401)
    if token == "alice-slow-token":
        await asyncio.sleep(0.5)  # long enough for concurrent requests to overlap
    user_id, session_id = TOKENS[token]
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    return JSONResponse({"userId": user_id, "sessionId": session_id, "expiresAt": expires})


async def project_access(request: Request) -> Response:
    """The caller's role: owner of its own project, nothing in another's."""
    state["access_calls"] += 1
    project_id = int(request.path_params["project_id"])
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if token not in TOKENS or OWNERS.get(project_id) != TOKENS[token][0]:
        return JSONResponse({"error": {"code": "not_found", "message": "no", "fields": {}}}, status_code=404)
    return JSONResponse({"projectId": project_id, "teamId": project_id, "role": "owner"})


async def counters(request: Request) -> Response:
    return JSONResponse(state)


async def events(request: Request) -> Response:
    async def stream():  # type: ignore[no-untyped-def]
        state["open_streams"] += 1
        try:
            for n in range(1, 31):
                yield f"id: {n}\nevent: tick\ndata: {{\"n\": {n}}}\n\n".encode()
                await asyncio.sleep(0.3)
        finally:
            state["open_streams"] -= 1

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"})


async def slow(request: Request) -> Response:
    await asyncio.sleep(5)
    return JSONResponse({"slow": True})


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "rawPath": request.scope["raw_path"].decode("latin-1"),
            "query": request.scope["query_string"].decode("latin-1"),
            "headers": dict(request.headers),
            "body": body.decode("utf-8", "replace"),
        },
        headers={"x-tme-internal-secret": "do-not-leak", "x-echo": "yes"},
    )


app = Starlette(routes=[
    Route("/internal/auth/verify", verify),
    Route("/internal/projects/{project_id:int}/access", project_access),
    Route("/_counters", counters),
    Route("/api/projects/{project_id:int}/realtime/stream", events),
    Route("/api/projects/{project_id:int}/stats/slow", slow),
    Route("/healthz", counters),
    Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
