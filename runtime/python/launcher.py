"""Stoke's Python launcher: the ActionLoop child of the action proxy.

argv: <action dir> <main> <file|archive>. Loads __main__.py from the action
directory (a single source file is saved under that name), acks on fd 3 when
__OW_WAIT_FOR_ACK is set (or sends {"error": ...} if the code does not
load), then answers one /run body per stdin line with one result line on
fd 3. Exceptions become {"error": str(ex)} with the traceback on stderr.
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


def main():
    directory, name = sys.argv[1], sys.argv[2]
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

    stdin = sys.stdin.buffer
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
