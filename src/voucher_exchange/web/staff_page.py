"""Render a staff page with brand names in the reader's language (slugs stay in URLs and the database)."""

from __future__ import annotations

from fastapi.responses import Response

from voucher_exchange.catalog import service as catalog
from voucher_exchange.web.render import page
from voucher_exchange.web.session import Visitor


def brand_names(v: Visitor) -> dict[str, str]:
    """slug → the brand's name in the reader's language (the catalogue keeps both)."""
    with v.ctx.uow(readonly=True) as uow:
        brands = catalog.list_brands(uow.conn)
    return {b.slug: (b.name_ko if v.lang == "ko" else b.name_en) for b in brands}


def staff_page(v: Visitor, template: str, status: int = 200, **values: object) -> Response:
    """`page()` plus `brand_name(slug)` for the template."""
    names = brand_names(v)
    return page(v, template, status=status, brand_name=lambda slug: names.get(str(slug), str(slug)), **values)
