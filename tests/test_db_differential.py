"""The real tables and their fakes side by side: seeded random calls of every public
method (known and unknown users, rooms, sessions, times that repeat or move on) made on
both, which must give the same answer or the same refusal each time. It finds what the
suites of ``test_db_*.py`` did not think of."""

import random

import pytest

from common.errors import RequestError
from common.messages.chat import MemberAction
from common.messages.social import AccessList
from tests.db_tables import Tables, emptied, memory_tables, postgres_tables, run, scratch  # noqa: F401 (fixture)

USERS = ["ann", "bo", "cy", "nobody"]  # "nobody" is never registered
ROOMS = ["#a", "#b", "#B"]  # "#a" and "#b" are ann's
RULES = ["everyone", "friends", "list", "ask", "room:#a", "room:#b", "nonsense", 3]
STEPS = 400
OFTEN = {"store": 4, "after": 2, "history": 2, "join": 2, "decide": 3, "ask": 2, "answer": 3}  # the others: 1


def calls(rng: random.Random, now: float) -> list[tuple[str, str, tuple]]:
    """One call of each method, with random arguments."""

    def user():
        return rng.choice(USERS) if rng.random() < 0.1 else rng.choice(USERS[:3])

    def pick(*options):
        return rng.choice(options)

    room, session, flag = (lambda: rng.choice(ROOMS)), (lambda: pick("s1", "s2")), (lambda: rng.random() < 0.7)
    return [
        ("users", "token_epoch", (user(),)),
        ("users", "end_tokens", (user(),)),
        ("relations", "change_friend", (user(), user(), flag())),
        ("relations", "friends", (user(),)),
        ("relations", "friend_rows", (user(),)),
        ("relations", "mutual", (user(),)),
        ("relations", "change_list", (user(), user(), pick(*AccessList), flag())),
        ("relations", "ignores", (user(), user())),
        ("preferences", "set", (user(), pick("access", "quality"), pick(*RULES))),
        ("preferences", "of", (user(),)),
        ("admissions", "standings", (user(), {name: session() for name in rng.sample(USERS, 3)})),
        ("admissions", "ask", (user(), user(), session(), now, pick(1.0, 5.0, 30.0))),
        ("admissions", "answer", (user(), user(), flag(), now)),
        ("admissions", "open_asks", (user(), now)),
        ("admissions", "invite", (user(), user(), now)),
        ("admissions", "decline", (user(), user())),
        ("admissions", "invitations", (user(),)),
        ("admissions", "use_invitation", (user(), user(), session(), now)),
        ("admissions", "throw", (user(), user(), now, now + pick(0, 3, 10))),
        ("messages", "store", (user(), pick(*USERS, *ROOMS), f"t{rng.randrange(99)}", f"c{rng.randrange(6)}", now)),
        ("messages", "after", (user(), pick(None, 0, 3, 8), pick(1, 3, 1000))),
        ("messages", "history", (user(), pick(None, *USERS, *ROOMS), pick(0, 2, 50))),
        ("messages", "seen", (user(), rng.randrange(12))),
        ("rooms", "page", (user(), pick(None, "#B", "#a"), pick(0, 1, 10))),
        ("rooms", "join", (user(), room(), now)),
        ("rooms", "leave", (user(), room())),
        ("rooms", "decide", ("ann" if flag() else user(), user(), room(), pick(*MemberAction), now)),
        ("rooms", "members", (room(),)),
        ("rooms", "exists", (room(),)),
    ]


def outcome(tables: Tables, table: str, method: str, args: tuple):
    try:
        result = run(getattr(getattr(tables, table), method)(*args))
    except RequestError as refusal:
        return refusal.code, refusal.message
    return sorted(result) if method == "mutual" else result  # PostgreSQL gives mutual friends in no order


def fresh(scratch) -> tuple[Tables, Tables]:
    pair = postgres_tables(emptied(scratch)), memory_tables()
    for tables in pair:
        for name in USERS[:3]:
            run(tables.users.register(name, "pw"))
        run(tables.rooms.join("ann", "#a", 0.0))
        run(tables.rooms.join("ann", "#b", 0.0))
    return pair


@pytest.mark.parametrize("seed", range(4))
def test_random_calls_get_the_same_answers_from_both(scratch, seed):
    real, fake = fresh(scratch)
    rng, now, done = random.Random(seed), 1000.0, []
    for _ in range(STEPS):
        now += rng.choice((0.0, 0.5, 2.0))  # equal times too
        options = calls(rng, now)
        table, method, args = rng.choices(options, [OFTEN.get(method, 1) for _, method, _ in options])[0]
        done.append(f"{table}.{method}{args}")
        assert outcome(fake, table, method, args) == outcome(real, table, method, args), "\n".join(done[-20:])
