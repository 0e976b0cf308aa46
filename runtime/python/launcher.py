"""Stoke's Python launcher: the ActionLoop child of the action proxy.

argv: <action dir> <main> <file|archive>. Loads __main__.py from the action
directory (a single source file is saved under that name), acks on fd 3 when
__OW_WAIT_FOR_ACK is set (or sends {"error": ...} if the code does not
load), then answers one /run body per stdin line with one result line on
fd 3. Exceptions become {"error": str(ex)} with the traceback on stderr.

With no arguments it is prestarted: Python starts before the action is
known, and the first stdin line says what to load, {"dir", "main", "kind",
"env"}, env being the action's whole environment as a list of "K=V" in
order.
"""
import importlib.util
import json
import os
import sys
import traceback


def send(out, obj):
    try:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as ex:
        line = json.dumps({"error": "The action returned a value that is not JSON: %s" % ex})
    out.write(line.encode("utf-8") + b"\n")
    out.flush()


def load(directory, main):
    entry = os.path.join(directory, "__main__.py")
    if not os.path.exists(entry):
        raise ImportError("Zip file does not include __main__.py")
    os.chdir(directory)
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location("main__", entry)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main__"] = module
    spec.loader.exec_module(module)
    fn = getattr(module, main, None)
    if not callable(fn):
        raise AttributeError("Action entrypoint '%s' is not a function." % main)
    return fn


def prestart_init(stdin):
    """Reads the load line and makes argv and the environment what a
    launcher started for this action sees. The inherited environment holds
    only __OW_* variables, all of which are in env again. What Python set
    for itself at start-up (LC_CTYPE when it coerces the C locale) stays,
    after env, as it would in a launcher started now."""
    msg = json.loads(stdin.readline())
    sys.argv[1:] = [msg["dir"], msg["main"], msg["kind"]]
    own = {k: v for k, v in os.environ.items() if not k.startswith("__OW_")}
    os.environ.clear()
    for kv in msg.get("env") or []:
        k, _, v = kv.partition("=")
        os.environ[k] = v
    for k, v in own.items():
        os.environ.setdefault(k, v)


def main():
    stdin = sys.stdin.buffer
    if len(sys.argv) < 2:
        prestart_init(stdin)
    directory, name = sys.argv[1], sys.argv[2]
    # A sandbox loads its action once: bytecode cached now would never be
    # read back, and writing it costs ~2 ms of /init on fuse-overlayfs.
    sys.dont_write_bytecode = True
    out = os.fdopen(3, "wb")
    ack = bool(os.environ.get("__OW_WAIT_FOR_ACK"))
    try:
        fn = load(directory, name)
    except Exception as ex:
        traceback.print_exc()
        sys.stderr.flush()
        if ack:
            send(out, {"error": "Initialization has failed due to: %s" % ex})
        sys.exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    if ack:
        send(out, {"ok": True})

    while True:
        line = stdin.readline()
        if not line:
            return
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except ValueError as ex:
            send(out, {"error": "Invalid request: %s" % ex})
            continue
        if isinstance(req, dict):
            for k, v in req.items():
                if k != "value" and isinstance(v, str):
                    os.environ["__OW_" + k.upper()] = v
            value = req.get("value", {})
        else:
            value = {}
        try:
            res = fn(value)
        except Exception as ex:
            traceback.print_exc()
            res = {"error": str(ex)}
        # Logs first: the proxy writes the sentinels once it has the result.
        sys.stdout.flush()
        sys.stderr.flush()
        send(out, res)


if __name__ == "__main__":
    main()
