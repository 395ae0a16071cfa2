"""The page's protocol numbers come from common/protocol.py: framecast.js, loaded as the
browser loads it (with the /protocol.js the masters serve), agrees with MessageType."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from common.protocol import FRAME_HEADER, HEADER, Codec, MessageType, encode
from common.protocol_javascript import protocol_module

STATIC = Path(__file__).parents[1] / "master" / "static"
node = shutil.which("node")


def test_the_module_lists_every_message_type():
    source = protocol_module().decode()
    line = next(line for line in source.splitlines() if line.startswith("export const T ="))
    types = json.loads(line.removeprefix("export const T = Object.freeze(").removesuffix(");"))
    assert types == {member.name: member.value for member in MessageType}


def test_no_page_script_spells_out_a_message_number():
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        copied = [m.name for m in MessageType if f"{m.name}: {m.value}" in text]
        assert not copied, f"{script.name} copies {copied}: import them from protocol.js"


@pytest.mark.skipif(node is None, reason="needs Node.js to load the page's modules")
def test_framecast_js_encodes_as_the_servers_do(tmp_path):
    shutil.copy(STATIC / "framecast.js", tmp_path / "framecast.js")
    (tmp_path / "protocol.js").write_bytes(protocol_module())
    (tmp_path / "package.json").write_text('{"type": "module"}')
    probe = tmp_path / "probe.js"
    probe.write_text(
        'import { T, JPEG, encode } from "./framecast.js";\n'
        'const bytes = encode(T.LOGIN, { user: "ann" });\n'
        "console.log(JSON.stringify({ T, JPEG, bytes: Array.from(bytes) }));\n"
    )
    seen = json.loads(subprocess.run([node, str(probe)], capture_output=True, check=True, text=True).stdout)
    assert seen["T"] == {member.name: member.value for member in MessageType}
    assert seen["JPEG"] == Codec.JPEG
    assert bytes(seen["bytes"]) == encode(MessageType.LOGIN, json.dumps({"user": "ann"}, separators=(",", ":")).encode())
    assert HEADER.size == 10 and FRAME_HEADER.size == 21  # the page parses these layouts
