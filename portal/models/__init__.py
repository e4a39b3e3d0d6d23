"""All models, importable from one place (Alembic and the tests need the full set)."""

from portal.models.accounts import LoginSession, User
from portal.models.chat import Message, MessageRevision
from portal.models.circles import (
    INVITABLE_ROLES,
    VOTING_ROLES,
    Circle,
    CircleEvent,
    Invitation,
    Membership,
    MembershipStatus,
    ReentryToken,
    Role,
)

__all__ = [
    "INVITABLE_ROLES",
    "VOTING_ROLES",
    "Circle",
    "CircleEvent",
    "Invitation",
    "LoginSession",
    "Message",
    "MessageRevision",
    "Membership",
    "MembershipStatus",
    "ReentryToken",
    "Role",
    "User",
]
