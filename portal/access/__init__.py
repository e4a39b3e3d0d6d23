"""The one place that decides who may see what: this package.

Every route and socket handler gets a circle (or something inside it) through an
``access_*`` function, which returns it or raises. A circle you may not see answers
exactly like one that does not exist: the same 404, byte for byte. ``can_*``
functions answer yes or no for a membership you already hold.

The rules are kept in five rooms, and everything is imported from here
(``from portal.access import can_vote``): ``circles`` (a circle, its people, its
links), ``chat``, ``lines`` (the private line between a supporter and the member they
support), ``plan`` (the plan and the meetings) and ``news`` (who hears of what).
"""

from portal.access.acting import (  # noqa: F401
    CHANGE_WINDOW,
    OFFLINE_ROLES,
    acting_for_choices,
    can_act_for,
    can_add_offline_member,
    can_invite_to_take_place,
    can_name_proxies,
    has_a_voice,
    may_be_proxy,
    within_change_window,
)
from portal.access.chat import (  # noqa: F401
    ChatSeat,
    access_chat,
    access_chat_seat,
    can_read_chat,
    chat_open_sql,
)
from portal.access.circles import (  # noqa: F401
    CircleClosed,
    access_circle,
    access_device,
    access_invitation,
    access_member,
    access_plan_item,
    can_be_removed,
    can_close_circle,
    can_decide_professional_access,
    can_edit_circle,
    can_enter_plan,
    can_export_circle,
    can_hand_over,
    can_hold_family_tasks,
    can_issue_reentry,
    can_join_other_circle,
    can_join_with,
    can_keep_circle,
    can_leave,
    can_manage,
    can_pass_conditions_on,
    can_read_whole_access_log,
    can_reissue_invitation,
    can_remove_condition,
    can_reopen_circle,
    can_see_still_to_join,
    can_use_invitation,
    can_use_reentry,
    load_circle,
    looks_are_recorded,
    refuse_if_closed,
    require,
    writing,
)
from portal.access.lines import (  # noqa: F401
    SUPPORTED_ROLES,
    access_line,
    can_be_supported,
    can_read_line,
    can_support,
    open_lines_of,
    pair_stands,
)
from portal.access.news import (  # noqa: F401
    access_sheet_of,
    asked_to_keep,
    can_print_sheet_for,
    consent_waits_for,
    hears_of_closing,
    hears_of_decision,
    hears_of_help,
    hears_of_line_message,
    hears_of_meeting,
    hears_of_needs_person,
    hears_of_people,
    may_answer_poll,
)
from portal.access.plan import (  # noqa: F401
    UNDO_WINDOW,
    can_accept_plan,
    can_attend_meetings,
    can_change_plan,
    can_manage_meeting,
    can_organise_meetings,
    can_remove_message,
    can_review_meeting,
    can_set_conditions,
    can_suggest_change,
    can_take_on_commitments,
    can_tick,
    can_undo_tick,
    can_vote,
    enters_plan_directly,
    takes_over_circle,
    watches_plan,
)
