"""Keyset-free, simple page-number pagination for short management lists.

(Chat history uses keyset pagination instead; see the chat service.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from portal.extensions import db


@dataclass
class Page:
    items: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(query: Select, number: int, per_page: int = 25) -> Page:
    number = max(1, number)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(items=list(items), number=number, per_page=per_page, total=total or 0)
