"""Catalog use cases: import/export, rate changes, status changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import repository
from voucher_exchange.catalog.models import (
    Brand,
    BrandStanding,
    BrandStatus,
    CodeFormat,
    FaceValues,
    RateSchedule,
    is_big_rate_change,
)
from voucher_exchange.context import Context
from voucher_exchange.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed."""

    added: int
    updated: int
    new_rate_versions: int


def default_catalog() -> dict[str, Any]:
    """The shipped default catalog (`catalog/data/default_catalog.json`)."""
    text = resources.files("voucher_exchange.catalog.data").joinpath("default_catalog.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return data


def read_catalog_file(path: Path) -> dict[str, Any]:
    """A catalog JSON file, or InvalidInput saying what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput("catalog_unreadable", f"Cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("brands"), list):
        raise InvalidInput("catalog_invalid", 'A catalog file is {"brands": [...]}.')
    return data


def _validate_entry(entry: dict[str, Any]) -> None:
    try:
        BrandStatus(entry["status"])
        CodeFormat.from_json(entry["code_format"])
        FaceValues.from_json(entry["face_values"])
        RateSchedule(1, RateSchedule.bands_from_json(entry["rates"]))
        for key in ("slug", "currency", "name_ko", "name_en", "issuer"):
            if not isinstance(entry[key], str) or not entry[key]:
                raise ValueError(key)
    except (KeyError, ValueError, TypeError) as exc:
        slug = entry.get("slug", "?") if isinstance(entry, dict) else "?"
        raise InvalidInput("catalog_invalid", f"Brand {slug}: bad or missing {exc}.") from exc


def import_catalog(conn: Connection, data: dict[str, Any], now: datetime, actor: str) -> ImportSummary:
    """Add or update brands; a changed rate becomes a new version (history is kept)."""
    for entry in data["brands"]:
        _validate_entry(entry)
    added = updated = versions = 0
    for entry in data["brands"]:
        if repository.save_brand(conn, entry, now):
            added += 1
        else:
            updated += 1
        if _append_rate_if_changed(conn, entry["slug"], entry["rates"], now, actor):
            versions += 1
    return ImportSummary(added, updated, versions)


def import_catalog_file(ctx: Context, path: Path, actor: str) -> ImportSummary:
    """Use case: import a catalog file (see `read_catalog_file`), audited with what it changed."""
    data = read_catalog_file(path)
    with ctx.uow() as uow:
        summary = import_catalog(uow.conn, data, ctx.clock.now(), actor)
        changed = {
            "added": summary.added,
            "updated": summary.updated,
            "rate_versions": summary.new_rate_versions,
        }
        audit.record(uow.conn, actor, "catalog.import", path.name, changed, ctx.clock.now())
        uow.commit()
    return summary


def _append_rate_if_changed(
    conn: Connection, slug: str, bands: list[dict[str, int]], now: datetime, actor: str
) -> bool:
    current = repository.current_rate_bands(conn, slug)
    normalised = [{"min_face": int(b["min_face"]), "rate_bps": int(b["rate_bps"])} for b in bands]
    if current and current[1] == normalised:
        return False
    repository.add_rate_version(conn, slug, (current[0] + 1) if current else 1, normalised, now, actor)
    return True


def rates_to_confirm(conn: Connection, slug: str, bands: list[dict[str, int]]) -> Brand | None:
    """The brand, when moving its rates to `bands` is big enough to ask the operator first; else None."""
    brand = require_brand(conn, slug)
    return brand if is_big_rate_change(brand.rates, bands) else None


def change_rates(ctx: Context, slug: str, bands: list[dict[str, int]], actor: str) -> Brand:
    """Use case: a new rate version for a brand (audited); it applies to new quotes only."""
    with ctx.uow() as uow:
        brand = set_rates(uow.conn, slug, bands, ctx.clock.now(), actor)
        uow.commit()
    return brand


def change_brand_status(ctx: Context, slug: str, status: BrandStatus, actor: str) -> None:
    """Use case: pause, suspend or reactivate a brand (audited, before → after)."""
    with ctx.uow() as uow:
        set_status(uow.conn, slug, status, ctx.clock.now(), actor)
        uow.commit()


def set_rates(conn: Connection, slug: str, bands: list[dict[str, int]], now: datetime, actor: str) -> Brand:
    """New rates for a brand; they apply to new quotes only (quotes keep the version they used)."""
    try:
        RateSchedule(1, RateSchedule.bands_from_json(bands))
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput("rate_bands_invalid", f"Rate bands: {exc}", "rates") from exc
    if get_brand(conn, slug) is None:
        raise NotFound("brand_unknown", f"There is no brand {slug!r}.", "brand")
    before = repository.current_rate_bands(conn, slug)
    if _append_rate_if_changed(conn, slug, bands, now, actor):
        after = repository.current_rate_bands(conn, slug)
        assert after is not None
        audit.record_change(
            conn,
            actor,
            "brand.rates",
            slug,
            {"version": before[0], "bands": before[1]} if before else {},
            {"version": after[0], "bands": after[1]},
            now,
        )
    return get_brand(conn, slug)  # type: ignore[return-value]


def set_status(conn: Connection, slug: str, status: BrandStatus, now: datetime, actor: str = "cli") -> None:
    """Pause, suspend or reactivate a brand."""
    before = repository.set_status(conn, slug, status, now)
    if before is None:
        raise NotFound("brand_unknown", f"There is no brand {slug!r}.", "brand")
    audit.record_change(
        conn, actor, "brand.status", slug, {"status": before.value}, {"status": status.value}, now
    )


def set_daily_cap(conn: Connection, slug: str, cap: int | None, now: datetime, actor: str) -> None:
    """Cap (or uncap, with None) the face value a brand is bought for per day; audited, before → after."""
    if cap is not None and cap <= 0:
        raise InvalidInput("daily_cap_invalid", "A daily cap is a positive amount.", "daily_cap")
    before = repository.set_daily_cap(conn, slug, cap, now)
    if before is None:
        raise unknown_brand(slug)
    audit.record_change(
        conn, actor, "brand.daily_cap", slug, {"daily_cap": before[0]}, {"daily_cap": cap}, now
    )


def issuer_codes(conn: Connection) -> list[str]:
    """Every issuer the catalog names."""
    return repository.issuer_codes(conn)


def rate_history(conn: Connection, slug: str) -> list[dict[str, Any]]:
    """Every rate version of a brand, newest first."""
    return list(reversed(repository.rate_history(conn, slug)))


def export_catalog(conn: Connection) -> dict[str, Any]:
    """The catalog as an importable JSON document (current rates)."""
    return {
        "brands": [
            {
                "slug": b.slug,
                "currency": b.currency,
                "name_ko": b.name_ko,
                "name_en": b.name_en,
                "issuer": b.issuer,
                "status": b.status.value,
                "scam_favoured": b.scam_favoured,
                "face_values": b.face_values.as_json(),
                "code_format": b.code_format.as_json(),
                "rates": [{"min_face": r.min_face, "rate_bps": r.rate_bps} for r in b.rates.bands],
            }
            for b in repository.list_brands(conn)
        ]
    }


def get_brand(conn: Connection, slug: str) -> Brand | None:
    """A brand with its current rates, or None."""
    return repository.get_brand(conn, slug)


def unknown_brand(slug: str) -> NotFound:
    """The error for a slug that names no brand, with a message that helps."""
    return NotFound("brand_unknown", f"There is no brand {slug!r}. GET /api/v1/brands lists them.", "brand")


def require_brand(conn: Connection, slug: str) -> Brand:
    """A brand, or NotFound with a message that helps."""
    brand = repository.get_brand(conn, slug)
    if brand is None:
        raise unknown_brand(slug)
    return brand


# A brand's standing (bound to `brand_slug`) as columns of a caller's own SELECT: `standing_in`.
STANDING = repository.standing_columns()


def standing_in(row: Any, slug: str) -> BrandStanding:
    """The standing read with `STANDING` in `row`, or NotFound."""
    standing = repository.standing_from(row)
    if standing is None:
        raise unknown_brand(slug)
    return standing


def list_brands(conn: Connection, currency: str | None = None) -> list[Brand]:
    """The catalog, optionally one currency only."""
    return repository.list_brands(conn, currency)
