"""Each in-memory fake of ``master.storage.db`` offers exactly its real class's public methods,
with the same signatures, so code written against one runs on the other (buildbot checks
its fakes' interfaces the same way). Their behaviour is held equal by ``test_db_*.py``."""

import inspect

import pytest

from master.storage.db.admissions import Admissions
from master.storage.db.memory_admissions import MemoryAdmissions
from master.storage.db.memory_messages import MemoryMessages
from master.storage.db.memory_preferences import MemoryPreferences
from master.storage.db.memory_relations import MemoryRelations
from master.storage.db.memory_rooms import MemoryRooms
from master.storage.db.memory_users import MemoryUserStore
from master.storage.db.messages import Messages
from master.storage.db.preferences import Preferences
from master.storage.db.relations import Relations
from master.storage.db.rooms import Rooms
from master.storage.db.users import UserStore

PAIRS = [
    (UserStore, MemoryUserStore),
    (Relations, MemoryRelations),
    (Preferences, MemoryPreferences),
    (Admissions, MemoryAdmissions),
    (Messages, MemoryMessages),
    (Rooms, MemoryRooms),
]


def public_methods(cls) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(method)
        for name, method in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize("real, fake", PAIRS, ids=[real.__name__ for real, _ in PAIRS])
def test_a_fake_has_its_real_class_methods_and_signatures(real, fake):
    assert public_methods(fake) == public_methods(real)
    for name in public_methods(real):
        assert inspect.iscoroutinefunction(getattr(fake, name)) == inspect.iscoroutinefunction(getattr(real, name))
