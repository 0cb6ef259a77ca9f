#!/usr/bin/env python3
"""A TCP proxy a test controls with signals, to cut the network between two local processes.

    tcpproxy.py LISTEN_PORT TARGET_PORT      (both on 127.0.0.1)

SIGUSR1  cut, loudly: every connection is reset and new ones are reset as soon as accepted.
SIGHUP   cut, silently (blackhole): connections stay open but nothing is forwarded either
         way, and new connections are accepted and never forwarded, as when packets are
         dropped on the way.
SIGUSR2  heal: new connections are forwarded again (blackholed ones stay dead; their peers
         give up on them, as they would after a real outage).
Prints "listening" on stdout once the port is open; each state change is printed too.
"""
import asyncio
import signal
import socket
import struct
import sys

LISTEN, TARGET = int(sys.argv[1]), int(sys.argv[2])
state = "up"
registry = {}          # id -> [client writer, server writer or None, blackholed]


def reset(writer):
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            # Linger 0: close sends a RST, like a peer that vanished.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def pipe(reader, writer, entry):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if entry[2]:
                continue                  # blackholed: swallow
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        if not entry[2]:
            try:
                writer.close()
            except OSError:
                pass


async def handle(creader, cwriter):
    if state == "down":
        reset(cwriter)
        return
    entry = [cwriter, None, state == "blackhole"]
    registry[id(entry)] = entry
    try:
        if entry[2]:
            while await creader.read(65536):
                pass                      # accepted, never forwarded
            return
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", TARGET)
        except OSError:
            reset(cwriter)
            return
        entry[1] = swriter
        await asyncio.gather(pipe(creader, swriter, entry), pipe(sreader, cwriter, entry))
    finally:
        registry.pop(id(entry), None)



def set_state(new):
    global state
    state = new
    print(new, flush=True)
    for entry in list(registry.values()):
        if new == "down":
            reset(entry[0])
            reset(entry[1])
        elif new == "blackhole":
            entry[2] = True


async def main():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, set_state, "down")
    loop.add_signal_handler(signal.SIGHUP, set_state, "blackhole")
    loop.add_signal_handler(signal.SIGUSR2, set_state, "up")
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN, reuse_address=True)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


try:
    asyncio.run(main())
except RuntimeError:
    pass                                  # stopped by SIGTERM
