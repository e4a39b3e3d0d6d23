"""All models, importable from one place (Alembic and the tests need the full set)."""

from portal.models.accounts import EmailChange, LoginSession, User
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
    membership_proxies,
)
from portal.models.lines import LineMessage, SupportLine
from portal.models.mail import OutboxMail
from portal.models.meetings import (
    CalendarFeed,
    CommitmentReview,
    Meeting,
    MeetingAnswer,
    MeetingInvitee,
    MeetingOption,
    MeetingReview,
)
from portal.models.notifications import (
    Notification,
    NotificationSwitch,
    PushDelivery,
    PushSubscription,
)
from portal.models.plan import (
    Acceptance,
    Agreement,
    ChecklistItem,
    Commitment,
    Completion,
    Condition,
    Plan,
    PlanVersion,
    Proposal,
    ProposalStatus,
    ProposalVote,
)
from portal.models.privacy import AccessLogEntry, SignIn

__all__ = [
    "LineMessage",
    "SupportLine",
    "membership_proxies",
    "AccessLogEntry",
    "SignIn",
    "Notification",
    "NotificationSwitch",
    "PushDelivery",
    "PushSubscription",
    "CalendarFeed",
    "CommitmentReview",
    "Meeting",
    "MeetingAnswer",
    "MeetingInvitee",
    "MeetingOption",
    "MeetingReview",
    "Acceptance",
    "Agreement",
    "ChecklistItem",
    "Commitment",
    "Completion",
    "Condition",
    "Plan",
    "PlanVersion",
    "Proposal",
    "ProposalStatus",
    "ProposalVote",
    "INVITABLE_ROLES",
    "VOTING_ROLES",
    "Circle",
    "CircleEvent",
    "EmailChange",
    "Invitation",
    "LoginSession",
    "Message",
    "MessageRevision",
    "OutboxMail",
    "Membership",
    "MembershipStatus",
    "ReentryToken",
    "Role",
    "User",
]
