"""The committed Geyser proto modules are exactly what grpcio-tools generates from geyser.proto,
and the proto keeps the published Yellowstone package, service and field numbers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from solarb.feeds.proto import geyser_pb2 as pb

SRC = Path(__file__).resolve().parents[2] / "src"
PROTO = Path("solarb/feeds/proto/geyser.proto")
GENERATED = ("geyser_pb2.py", "geyser_pb2.pyi", "geyser_pb2_grpc.py")


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    (tmp_path / PROTO).parent.mkdir(parents=True)
    shutil.copy(SRC / PROTO, tmp_path / PROTO)
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", str(tmp_path / PROTO)],
        check=True, capture_output=True, timeout=60,
    )
    for name in GENERATED:
        fresh = (tmp_path / PROTO.parent / name).read_bytes()
        committed = (SRC / PROTO.parent / name).read_bytes()
        assert fresh == committed, f"{name} is stale: regenerate (see geyser.proto header)"


def test_published_numbers() -> None:
    desc = pb.DESCRIPTOR
    assert desc.package == "geyser"
    svc = desc.services_by_name["Geyser"]
    assert svc.full_name == "geyser.Geyser"
    assert svc.methods_by_name["Subscribe"].client_streaming
    assert svc.methods_by_name["Subscribe"].server_streaming

    def nums(msg: str) -> dict[str, int]:
        return {f.name: f.number for f in desc.message_types_by_name[msg].fields}

    assert nums("SubscribeRequest") == {"accounts": 1, "slots": 2, "commitment": 6, "ping": 9}
    assert nums("SubscribeRequestFilterAccounts") == {"account": 2, "owner": 3}
    assert nums("SubscribeUpdate") == {"filters": 1, "account": 2, "slot": 3, "ping": 6, "pong": 9}
    assert nums("SubscribeUpdateAccount") == {"account": 1, "slot": 2, "is_startup": 3}
    assert nums("SubscribeUpdateAccountInfo") == {
        "pubkey": 1, "lamports": 2, "owner": 3, "executable": 4, "rent_epoch": 5, "data": 6,
        "write_version": 7}
    assert nums("SubscribeUpdateSlot") == {"slot": 1, "parent": 2, "status": 3}
    assert pb.CONFIRMED == 1 and pb.SLOT_PROCESSED == 0 and pb.SLOT_DEAD == 6


def test_wire_compatible_round_trip() -> None:
    upd = pb.SubscribeUpdate(filters=["f"], account=pb.SubscribeUpdateAccount(
        account=pb.SubscribeUpdateAccountInfo(pubkey=b"\x01" * 32, lamports=5, data=b"xyz"), slot=9))
    raw = upd.SerializeToString()
    # field 2 (account), wire type 2: tag byte 0x12 after the filters entry (tag 0x0a)
    assert raw[0] == 0x0A and raw[3] == 0x12
    assert pb.SubscribeUpdate.FromString(raw) == upd
