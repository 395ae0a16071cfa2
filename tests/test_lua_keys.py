"""Every Lua script of the Redis store names each key it touches through KEYS, never a key
built inside the script (Redis Cluster and replicas rely on scripts declaring their keys)."""

import re

from master.storage import redis_scripts

CALL = re.compile(r"redis\.call\(\s*'(\w+)'\s*,\s*([^,)]+)")
SCRIPTS = {name: text for name, text in vars(redis_scripts).items() if name.isupper() and isinstance(text, str)}


def test_every_redis_call_of_every_script_names_a_declared_key():
    assert len(SCRIPTS) >= 7
    for name, script in SCRIPTS.items():
        calls = CALL.findall(script)
        assert calls and len(calls) == script.count("redis.call("), f"{name}: a call the check cannot read"
        for command, key in calls:
            assert re.fullmatch(r"KEYS\[\d+\]", key.strip()), f"{name}: {command} on {key!r}, not a KEYS entry"
