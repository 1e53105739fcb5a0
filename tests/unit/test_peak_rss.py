"""sepa.collector.rss is the collector's own peak memory, whoever started it."""
import subprocess
import sys

from zabbix_sepa.collect import peak_rss_bytes

MIB = 2**20


def test_peak_rss_is_not_inherited_from_a_big_parent():
    # The parent holds ~300 MiB when it starts the collector (subprocess uses vfork or
    # posix_spawn on Linux): getrusage's ru_maxrss in the child would report the
    # parent's peak, which is what the benchmark measured before.
    ballast = bytearray(300 * MIB)
    ballast[::4096] = b"x" * len(ballast[::4096])     # resident, not only reserved
    out = subprocess.run([sys.executable, "-c",
                          "from zabbix_sepa.collect import peak_rss_bytes; print(peak_rss_bytes())"],
                         capture_output=True, text=True, check=True).stdout
    del ballast
    assert 5 * MIB < int(out) < 150 * MIB


def test_peak_rss_counts_what_this_process_touched():
    ballast = bytearray(64 * MIB)
    ballast[::4096] = b"x" * len(ballast[::4096])
    assert peak_rss_bytes() >= 64 * MIB
    del ballast
