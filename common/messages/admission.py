"""Messages of admission (U4-U7): view requests and answers, invitations, the viewer list,
and throwing a viewer out; between clients and masters, and masters and slaves."""

from __future__ import annotations

import enum
from typing import Annotated

from common.messages.fields import Count, Flag, Kbps, Name, Time, Token, UserName, one_of, records
from common.messages.schema import Check, Control, Record, control, record
from common.protocol import MessageType as T


@control(T.VIEW_PENDING)
class ViewPending(Control):
    """The answer to a VIEW_REQUEST the broadcaster must decide: wait for VIEW_ANSWER
    (or ask again) until ``expires_at``."""

    broadcaster: UserName
    expires_at: Time


@control(T.VIEW_ASK)
class ViewAsk(Control):
    """Pushed to the broadcaster: ``viewer`` asks to watch."""

    viewer: UserName
    expires_at: Time


@control(T.VIEW_ANSWER)
class ViewAnswer(Control):
    """Pushed to the viewer: the broadcaster's answer."""

    broadcaster: UserName
    accepted: Flag


@control(T.ASK_ANSWERED)
class AskAnswered(Control):
    """Pushed to the broadcaster's sessions: a request was answered (perhaps from another
    terminal), so no session need ask about it any more."""

    viewer: UserName
    accepted: Flag


class Answer(enum.StrEnum):
    ACCEPT = "accept"
    DENY = "deny"
    ALWAYS = "always"  # accept, and put on the allow list
    IGNORE = "ignore"  # deny, and put on the ignore list


@control(T.ACCESS_ANSWER)
class AccessAnswer(Control):
    token: Token
    viewer: UserName
    answer: Annotated[Answer, Check(one_of(Answer))]


@control(T.INVITE)
class Invite(Control):
    token: Token
    user: UserName


@control(T.DECLINE)
class Decline(Control):
    """Decline ``user``'s invitation."""

    token: Token
    user: UserName


@control(T.INVITATION)
class Invitation(Control):
    """Pushed to the invited user."""

    broadcaster: UserName


@control(T.INVITATION_DECLINED)
class InvitationDeclined(Control):
    """Pushed to the broadcaster."""

    viewer: UserName


class Path(enum.StrEnum):
    SERVER = "server"
    P2P = "p2p"


@record
class ViewerRow(Record):
    user: UserName
    since: Time
    fps: Kbps
    kbps: Kbps
    slave: Name = ""
    path: Annotated[Path, Check(one_of(Path))] = Path.SERVER


@control(T.VIEWERS_REQUEST)
class ViewersRequest(Control):
    token: Token


@control(T.VIEWER_LIST)
class ViewerList(Control):
    viewers: Annotated[tuple[ViewerRow, ...], records(ViewerRow)] = ()


@control(T.THROW)
class Throw(Control):
    token: Token
    user: UserName


@control(T.REMOVED)
class Removed(Control):
    """Slave -> viewer: the broadcaster threw this viewer out; it must not reconnect."""

    broadcaster: UserName


@control(T.THROW_VIEWER)
class ThrowViewer(Control):
    """Master -> slave: drop ``viewer``'s streams of ``target`` and refuse its tickets
    until ``until``."""

    target: UserName
    viewer: UserName
    until: Time


@control(T.VIEWERS_QUERY)
class ViewersQuery(Control):
    """Master -> slave: who watches ``target`` here? Answered by VIEWERS_REPORT, which
    goes back to master ``reply_to`` (through the store if the link is elsewhere)."""

    query: Count
    reply_to: Name
    target: UserName


@control(T.VIEWERS_REPORT)
class ViewersReport(Control):
    query: Count
    reply_to: Name
    viewers: Annotated[tuple[ViewerRow, ...], records(ViewerRow)] = ()
