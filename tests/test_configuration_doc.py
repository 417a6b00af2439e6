"""docs/configuration.md lists every `TME_*` setting of every service, as the code defines it."""

from pathlib import Path

from services.shared.settings_doc import render_markdown, settings_classes

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_the_configuration_reference_is_current() -> None:
    assert DOC.read_text() == render_markdown(), (
        "docs/configuration.md is stale: python -m services.shared.settings_doc > docs/configuration.md")


def test_every_setting_is_described() -> None:
    undescribed = [f"TME_{name.upper()} ({service})" for service, cls in settings_classes().items()
                   for name, field in cls.model_fields.items() if name != "service_name" and not field.description]
    assert not undescribed, undescribed
