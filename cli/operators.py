"""``status``, and the operators' ``drain``, ``undrain`` and ``rebalance``."""

from __future__ import annotations

import json

from cli import credentials
from cli.args import positive_float, say
from cli.status_table import render
from client import operations
from client.masters import Masters
from common.messages.accounts import OperatorCommand


def add_commands(commands) -> None:
    status = commands.add_parser("status", help="the cluster: masters, slaves, the broadcasts you may watch")
    status.add_argument("--json", action="store_true")
    status.add_argument(
        "--operator", action="store_true", help="everything, with the cluster secret (implied by FRAMECAST_SECRET)"
    )
    status.set_defaults(run=cmd_status)

    drain = commands.add_parser("drain", help="drain a slave for maintenance (operators)")
    drain.add_argument("slave", help="slave id or address")
    drain.add_argument("--wait", action="store_true", help="return once the slave is empty")
    drain.add_argument("--deadline", type=positive_float, help="seconds before the rest is told to reconnect")
    drain.add_argument("--stop", action="store_true", help="then stop its Docker container (implies --wait)")
    drain.set_defaults(run=cmd_drain)
    undrain = commands.add_parser("undrain", help="put a drained slave back into placement (operators)")
    undrain.add_argument("slave", help="slave id or address")
    undrain.set_defaults(run=cmd_undrain)
    rebalance = commands.add_parser("rebalance", help="move broadcasts off the most loaded slaves (operators)")
    rebalance.set_defaults(run=cmd_rebalance)


def cmd_status(args) -> int:
    """Operators (the cluster secret in the environment, or --operator) see everything;
    users see what their login lets them."""
    if args.operator or credentials.secret_in_environment():
        status = Masters(args.server).status(secret=credentials.cluster_secret())
    else:
        status = Masters(args.server).status(token=credentials.load().token)
    print(json.dumps(status.fields(), indent=2) if args.json else render(status))
    return 0


def cmd_drain(args) -> int:
    masters = Masters(args.server)
    secret = credentials.cluster_secret()
    result = masters.operator(secret, OperatorCommand.DRAIN, args.slave, args.deadline)
    print(f"draining slave {result.slave} ({result.addr})", flush=True)
    if args.wait or args.stop:
        slave = operations.wait_drained(masters, secret, result.slave, say)
        print(f"slave {result.slave} is drained", flush=True)
        if args.stop:
            operations.stop_container(slave)
            print(f"stopped container {slave.container[:12]} of slave {result.slave}")
    return 0


def cmd_undrain(args) -> int:
    result = Masters(args.server).operator(credentials.cluster_secret(), OperatorCommand.UNDRAIN, args.slave)
    print(f"slave {result.slave} ({result.addr}) is back in placement")
    return 0


def cmd_rebalance(args) -> int:
    plan = Masters(args.server).operator(credentials.cluster_secret(), OperatorCommand.REBALANCE)
    for move in plan.moves:
        print(f"moving {move.user}: {move.source} -> {move.destination}")
    if not plan.moves:
        print("the cluster is balanced; nothing to move")
    return 0
