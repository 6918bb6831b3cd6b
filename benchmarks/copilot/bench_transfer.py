"""Transfer benchmark: containertask.storage beside s5cmd (and boto3) against the local MinIO.

Moves one large file and a directory of many small files up and down with each tool, each
operation in its own process (time and peak RSS include start-up), ``--rounds`` interleaved rounds
per operation (the order of the tools rotates every round), and reports per tool the median and
the spread (min-max) of the process time, the median throughput, the CPU seconds of the tool and
of MinIO during the transfer (medians), peak RSS, and ``vs s5cmd``: s5cmd's median time over the
tool's (targets: >= 1.2x on every operation, peak RSS <= 200 MiB).

The machine's own limits are measured in the same rounds with trivial clients
(``raw_s3.py``): one plain HTTP GET/PUT of the large object on one connection, the same GET
written to a file as it comes (``raw-download``: the simplest download there is), many small
objects through presigned URLs, 32 KiB writes of the large file to the local disk, the small files
created with bare ``os.open``/``os.write``. ``vs limit`` is the tool's median throughput over the limit's.
The load average is printed with every round: the machine may be shared.

Every transfer starts after ``--settle`` seconds (4) of quiet: these VMs hand freed memory back
to their host (virtio-balloon free page reporting, about 2 s after it is freed), and writing 1 GiB
into the page cache took 0.2 s right after 1 GiB had been freed but 1.2-2.8 s once that memory had
gone back. Without the wait, whichever tool ran right after the previous copy was deleted wrote
into warm memory: that, and other work on the 2 cores, made earlier figures swing by 2x.

``--cold`` drops the page cache (``sync; echo 3 > /proc/sys/vm/drop_caches``, root only) before
every measured transfer, so MinIO reads objects and uploads read files from the disk. Small copies
are kept until the operation's rounds are over: ext4 creates files slowly just after thousands
were deleted, which would weigh on whichever tool came next. Each run removes what it stored.

    eval "$(hack/cluster env)"          # AWS_* and CONTAINERTASK_TEST_BUCKET of the local MinIO
    flock /tmp/containertask-bench.lock .venv/bin/python benchmarks/copilot/bench_transfer.py \
        [--rounds 5] [--cold] [--ops download-large] [--tools s5cmd containertask]

s5cmd is looked up in ``~/.cache/containertask/bin/s5cmd-*/`` or on PATH.

Latest run, warm page cache (the default): 2026-12-03 19:00 UTC on a 2-core AMD EPYC Firecracker
VM, 24 GiB, Linux 6.18.44, Python 3.11.7, 1 GiB file, 10,000 x 4 KiB files, 5 rounds, settle 4 s;
load average 5.9-19.9 over the rounds (4 other sessions building and testing on the same cores):

    upload-large     median s (min-max)           throughput  cpu s MinIO s  peak RSS vs s5cmd  vs raw-put
      s5cmd              8.86 (5.71-11.39)       116 MiB/s      3.08    4.43    25 MiB    1.00x  0.90
      containertask      7.12 (6.33-10.24)       144 MiB/s      0.87    4.20    63 MiB    1.24x  1.11
      raw-put            7.93 (5.33-9.33)        129 MiB/s         -    4.03         -
    download-large   median s (min-max)           throughput  cpu s MinIO s  peak RSS vs s5cmd  vs raw-get / disk-write
      s5cmd              1.96 (1.78-2.61)        522 MiB/s      1.20    0.74    25 MiB    1.00x  0.76 / 1.66
      containertask      2.63 (1.89-3.05)        389 MiB/s      1.45    0.91    38 MiB    0.74x  0.57 / 1.23
      raw-get            1.49 (1.35-1.59)        686 MiB/s         -    0.87         -
      disk-write         3.25 (1.70-4.48)        315 MiB/s         -       -         -
    upload-small     median s (min-max)           throughput  cpu s MinIO s  peak RSS vs s5cmd  vs raw-put
      s5cmd             27.91 (24.34-32.34)      358 files/s    7.30   18.49    54 MiB    1.00x  0.88
      containertask     20.77 (18.96-31.15)      481 files/s    5.27   16.89    35 MiB    1.34x  1.18
      raw-put           24.47 (22.06-27.27)      409 files/s       -   19.17         -
    download-small   median s (min-max)           throughput  cpu s MinIO s  peak RSS vs s5cmd  vs raw-get / disk-create
      s5cmd             15.18 (12.53-22.20)      659 files/s    7.81    7.98    62 MiB    1.00x  0.82 / 0.07
      containertask     11.56 (10.69-18.95)      865 files/s    5.67    6.21    35 MiB    1.31x  1.08 / 0.10
      raw-get           12.52 (7.99-13.12)       799 files/s       -    8.29         -
      disk-create        1.11 (0.69-2.46)       9044 files/s       -       -         -

The large download misses the 1.2x target (0.74x here, 0.92x at 18:34): both tools beat the 1 MiB
disk-write limit (32 KiB writes), and ours spends more CPU per GiB (Python and obstore copy each
piece once more; 1.45 vs 1.20 s) on cores that other work keeps busy. Uploads and small files are
bound by MinIO's CPU (4-5 s per GiB, ~1.7 ms per small PUT, ~0.7 ms per GET).

Latest cold run, large file only (``--cold --ops upload-large download-large``), same machine,
2026-12-03 18:44 UTC, load average 6.0-10.0 over the rounds:

    upload-large     median s (min-max)   throughput  cpu s MinIO s  peak RSS vs s5cmd  vs raw-put
      s5cmd              8.24 (6.03-12.04)   124 MiB/s    4.19    3.73    25 MiB    1.00x  0.91
      containertask      6.48 (4.34-7.39)    158 MiB/s    2.15    3.25    63 MiB    1.27x  1.16
      raw-put            7.51 (5.22-8.05)    136 MiB/s       -    4.74         -
    download-large   median s (min-max)   throughput  cpu s MinIO s  peak RSS vs s5cmd  vs raw-get / disk-write
      s5cmd              3.01 (2.56-4.72)    341 MiB/s    1.31    1.44    25 MiB    1.00x  1.35 / 0.16
      containertask      3.36 (2.67-3.46)    304 MiB/s    1.61    1.13    38 MiB    0.89x  1.20 / 0.15
      raw-get            4.04 (3.75-6.07)    253 MiB/s       -    2.82         -
      disk-write         0.49 (0.30-0.83)   2070 MiB/s       -       -         -

Latest cold run of the small files (a full ``--cold`` run at 18:10 UTC, load 5.1-14.1; the large
file's code changed since, the small files' did not):

    upload-small     median s (min-max)    throughput   cpu s MinIO s  peak RSS vs s5cmd  vs raw-put
      s5cmd             32.26 (20.02-43.81)  310 files/s    7.96   20.24    54 MiB    1.00x  0.95
      containertask     25.69 (15.29-38.32)  389 files/s    5.87   18.42    35 MiB    1.26x  1.19
      raw-put           30.69 (12.87-38.78)  326 files/s       -   21.08         -
    download-small   median s (min-max)    throughput   cpu s MinIO s  peak RSS vs s5cmd  vs raw-get / disk-create
      s5cmd             16.26 (10.00-23.38)  615 files/s    8.28   11.19    62 MiB    1.00x  0.50 / 0.06
      containertask     16.70 (8.33-19.13)   599 files/s    6.50    9.20    36 MiB    0.97x  0.49 / 0.06
      raw-get            8.18 (7.35-19.76)  1222 files/s       -   10.49         -
      disk-create        0.95 (0.79-2.66)  10509 files/s       -       -         -
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import raw_s3

MiB = 1024 * 1024
TOOLS = ("s5cmd", "containertask", "boto3")
OPERATIONS = ("upload-large", "download-large", "upload-small", "download-small")
# The trivial clients that measure the machine's limits, per operation.
LIMITS = {
    "upload-large": ("raw-put",),
    "download-large": ("raw-get", "raw-download", "disk-write"),
    "upload-small": ("raw-put",),
    "download-small": ("raw-get", "disk-create"),
}


@dataclass(frozen=True)
class Sample:
    seconds: float  # process time (start-up included) or, for a limit, the transfer alone
    transfer: float  # the transfer alone, as the tool's process measured it
    rss_mib: float
    cpu: float  # user + system seconds of the tool's process
    server_cpu: float | None  # MinIO's user + system seconds during the transfer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", default=os.environ.get("CONTAINERTASK_TEST_BUCKET"))
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--small-files", type=int, default=10_000)
    parser.add_argument("--small-bytes", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per tool")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each")
    parser.add_argument("--ops", nargs="+", choices=OPERATIONS, default=OPERATIONS)
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=TOOLS[:2])
    parser.add_argument("--no-limits", action="store_true", help="skip the trivial clients")
    parser.add_argument(
        "--settle", type=float, default=4.0, help="seconds of quiet before each transfer"
    )
    args = parser.parse_args()
    if not (args.bucket and os.environ.get("AWS_ENDPOINT_URL")):
        parser.error(
            'set AWS_ENDPOINT_URL and CONTAINERTASK_TEST_BUCKET (eval "$(hack/cluster env)")'
        )
    if args.cold and os.geteuid() != 0:
        parser.error("--cold drops the page cache, which needs root")
    s5cmd = _find_s5cmd()
    if "s5cmd" in args.tools and not s5cmd:
        parser.error("s5cmd not found (hack/cluster build s5cmd, or put it on PATH)")
    bench = _Bench(args, s5cmd, f"s3://{args.bucket}/bench-{uuid.uuid4().hex[:8]}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove what was stored
    _describe_machine(args)
    with tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
        try:
            bench.run(Path(tmp))
        finally:
            _delete_prefix(bench.run_uri)
    return 0


class _Bench:
    def __init__(self, args: argparse.Namespace, s5cmd: str | None, run_uri: str) -> None:
        self.args, self.s5cmd, self.run_uri = args, s5cmd, run_uri
        self.server = _server_process(os.environ["AWS_ENDPOINT_URL"])

    def run(self, work: Path) -> None:
        args = self.args
        kinds = {op.split("-")[1] for op in args.ops}
        large = _make_large(work, args.large_mib) if "large" in kinds else None
        small = _make_small(work, args.small_files, args.small_bytes) if "small" in kinds else None
        for op in (op for op in OPERATIONS if op in args.ops):
            local = large if op.endswith("large") else small
            assert local is not None
            self._operation(op, local, work)

    def _operation(self, op: str, local: Path, work: Path) -> None:
        args = self.args
        kind = op.split("-")[1]
        tools = list(args.tools)
        limits = [] if args.no_limits else list(LIMITS[op])
        samples: dict[str, list[Sample]] = {name: [] for name in [*tools, *limits]}
        copies: list[Path] = []
        if op.startswith("down"):  # every tool downloads the same object(s)
            _measure("raw", op.replace("down", "up"), str(local), self._remote(kind), None)
        print(f"\n{op}: {args.rounds} rounds", flush=True)
        for round_ in range(args.rounds):
            shift = round_ % len(tools)
            order = tools[shift:] + tools[:shift] + limits
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            line = []
            for name in order:
                sample = self._one(name, op, local, work, round_, copies)
                samples[name].append(sample)
                line.append(f"{name} {sample.seconds:.2f}s")
            print(f"  round {round_ + 1}, load {load}: " + ", ".join(line), flush=True)
        # Small copies go once the operation is over (see the module's docstring).
        for copy in copies:
            shutil.rmtree(copy, ignore_errors=True)
        size = local.stat().st_size if kind == "large" else self.args.small_files
        _report(op, kind, size, samples, tools, limits)

    def _one(
        self, name: str, op: str, local: Path, work: Path, round_: int, copies: list[Path]
    ) -> Sample:
        kind = op.split("-")[1]
        remote = self._remote(kind) if op.startswith("down") else f"{self.run_uri}/{name}/{kind}"
        back = work / f"back-{name}-{kind}-{round_}"
        if self.args.cold:
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        time.sleep(self.args.settle)
        if name.startswith("disk"):
            return self._disk(name, local, back, copies)
        src, dst = (str(local), remote) if op.startswith("up") else (remote, str(back))
        before = _cpu_seconds(self.server)
        sample = _measure(name, op, src, dst, self.s5cmd)
        after = _cpu_seconds(self.server)
        server_cpu = after - before if before is not None and after is not None else None
        sample = Sample(sample.seconds, sample.transfer, sample.rss_mib, sample.cpu, server_cpu)
        if op.startswith("down") and name != "raw-get":
            _check_same(local, back)
            if back.is_dir():
                copies.append(back)
            else:
                back.unlink()
        return sample

    def _remote(self, kind: str) -> str:
        """Where the downloads of ``kind`` read from."""
        return f"{self.run_uri}/source/{kind}"

    def _disk(self, name: str, local: Path, back: Path, copies: list[Path]) -> Sample:
        if name == "disk-write":
            seconds = raw_s3.disk_write(back, local.stat().st_size)
            back.unlink()
        else:
            seconds = _create_like(local, back)
            copies.append(back)
        return Sample(seconds, seconds, 0.0, seconds, None)


def _measure(name: str, op: str, src: str, dst: str, s5cmd: str | None) -> Sample:
    """One operation in a fresh process: its time, peak RSS and CPU seconds."""
    if name == "s5cmd":
        assert s5cmd
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        if op.endswith("small"):
            src = src.rstrip("/") + "/*"
            dst = dst.rstrip("/") + "/"
        command = [s5cmd, "--endpoint-url", endpoint, "cp", src, dst]
    else:
        command = [sys.executable, str(Path(__file__).with_name("worker.py")), name, op, src, dst]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{name} {op} failed with status {status}")
    inside = [
        float(line.split()[1])
        for line in output.splitlines()
        if line.startswith("transfer-seconds ")
    ]
    transfer = inside[0] if inside else seconds
    cpu = usage.ru_utime + usage.ru_stime
    if name.startswith("raw"):  # a limit: the transfer alone, not the interpreter's start-up
        seconds = transfer
    return Sample(seconds, transfer, usage.ru_maxrss / 1024, cpu, None)


def _create_like(original: Path, copy: Path) -> float:
    """Seconds to create ``original``'s files below ``copy`` with bare syscalls, one thread."""
    files = sorted(p.relative_to(original) for p in original.rglob("*") if p.is_file())
    body = (original / files[0]).read_bytes()
    start = time.perf_counter()
    for relative in files:
        target = copy / relative
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, body)
        os.close(fd)
    return time.perf_counter() - start


def _report(
    op: str,
    kind: str,
    size: int,
    samples: dict[str, list[Sample]],
    tools: list[str],
    limits: list[str],
) -> None:
    unit, scale = ("MiB/s", size / MiB) if kind == "large" else ("files/s", float(size))
    medians = {name: statistics.median(s.seconds for s in runs) for name, runs in samples.items()}
    print(
        f"  {'':<14}{'median s':>9} {'(min-max)':<13}{'throughput':>17}{'cpu s':>7}"
        f"{'MinIO s':>8}{'peak RSS':>10}{'vs s5cmd':>9}  vs {' / '.join(limits)}"
    )
    for name in [*tools, *limits]:
        runs = samples[name]
        secs = [s.seconds for s in runs]
        server = [s.server_cpu for s in runs if s.server_cpu is not None]
        is_tool = name in tools
        cpu = f"{statistics.median(s.cpu for s in runs):7.2f}" if is_tool else f"{'-':>7}"
        server_cpu = f"{statistics.median(server):8.2f}" if server else f"{'-':>8}"
        rss = f"{max(s.rss_mib for s in runs):6.0f} MiB" if is_tool else f"{'-':>10}"
        ratio = (
            f"{medians['s5cmd'] / medians[name]:8.2f}x"
            if is_tool and "s5cmd" in medians
            else " " * 9
        )
        versus = (
            " / ".join(f"{medians[lim] / medians[name]:.2f}" for lim in limits) if is_tool else ""
        )
        spread = f"({min(secs):.2f}-{max(secs):.2f})"
        print(
            f"  {name:<14}{medians[name]:9.2f} {spread:<13}{scale / medians[name]:9.0f} "
            f"{unit:<8}{cpu}{server_cpu}{rss}{ratio}  {versus}"
        )


def _describe_machine(args: argparse.Namespace) -> None:
    cpu = "?"
    with Path("/proc/cpuinfo").open() as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}; page cache {'cold' if args.cold else 'warm'}; "
        f"large {args.large_mib} MiB, small {args.small_files} x {args.small_bytes} B; "
        f"tools in rotating order, then the limits, each round",
        flush=True,
    )


def _server_process(endpoint: str) -> int | None:
    """The pid of the process listening on the endpoint's port (MinIO), if it can be seen."""
    import psutil

    port = urlsplit(endpoint).port
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                pid: int | None = conn.pid
                return pid
    except psutil.AccessDenied:
        pass
    return None


def _cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _delete_prefix(uri: str) -> None:
    """Remove what the run stored, so runs do not pile up in the shared MinIO."""
    import boto3

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3")
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def _make_large(work: Path, mib: int) -> Path:
    large = work / "large.bin"
    with large.open("wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MiB))
    return large


def _make_small(work: Path, count: int, size: int) -> Path:
    small = work / "small"
    for i in range(count):
        d = small / f"d{i % 100:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}").write_bytes(os.urandom(size))
    return small


def _check_same(original: Path, copy: Path) -> None:
    if original.is_file():
        same = copy.stat().st_size == original.stat().st_size
    else:
        same = sorted(
            p.relative_to(original) for p in original.rglob("*") if p.is_file()
        ) == sorted(p.relative_to(copy) for p in copy.rglob("*") if p.is_file())
    if not same:
        raise SystemExit(f"{copy} differs from {original}")


def _find_s5cmd() -> str | None:
    found = sorted(Path.home().glob(".cache/containertask/bin/s5cmd-*/s5cmd"))
    return str(found[-1]) if found else shutil.which("s5cmd")


if __name__ == "__main__":
    raise SystemExit(main())
