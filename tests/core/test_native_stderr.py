"""The native-stderr filter: XGBoost's collective "got rank" lines are dropped, every other byte is kept."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from uplift_studio.core.native_stderr import TRACKER_RANK, _LineFilter

RANK_0 = "[18:31:03] Task [xgboost.dask-0]:tcp://127.0.0.1:44797 got rank 0"
RANK_1 = "[18:31:03] Task [xgboost.dask-1]:tcp://127.0.0.1:46523 got rank 1"


def _filtered(*chunks: str) -> str:
    line_filter = _LineFilter(TRACKER_RANK)
    out = b"".join(line_filter.feed(chunk.encode()) for chunk in chunks) + line_filter.close()
    return out.decode()


def test_rank_lines_go_and_other_lines_stay_in_order():
    assert _filtered(f"pass 2 of 3\n{RANK_0}\n{RANK_1}\npass 3 of 3\n") == "pass 2 of 3\npass 3 of 3\n"


def test_two_messages_written_at_once_take_their_orphaned_newline_with_them():
    # as two tracker threads write it: both messages on one line, the second one's newline on its own
    assert _filtered(f"{RANK_1}{RANK_0}\n\n{RANK_0}\nnext\n") == "next\n"
    # an empty line nobody orphaned is the user's own, also after a line that did orphan one
    assert _filtered(f"{RANK_0}\n\nnext\n") == "\nnext\n"
    assert _filtered(f"{RANK_1}{RANK_0}\nuser line\n\nmore\n") == "user line\n\nmore\n"


def test_a_line_split_across_reads_and_an_unfinished_last_line_are_kept_whole():
    assert _filtered("a warn", "ing\n", RANK_0[:20], RANK_0[20:] + "\n", "no newline") == "a warning\nno newline"
    assert _filtered(f"cut {RANK_0}") == "cut ", "no newline the input did not have"
    # text around a message on the same line stays
    assert _filtered(f"Traceback: {RANK_0}\n") == "Traceback: \n"


def test_a_child_process_and_this_process_write_through_the_filter():
    """fd 2 itself is filtered (what native code writes, and what processes started in the block inherit), and
    it is the real stderr again afterwards."""
    script = textwrap.dedent(
        f"""
        import os, subprocess, sys
        from uplift_studio.core.native_stderr import filtered_stderr
        print("before", file=sys.stderr)
        with filtered_stderr():
            os.write(2, b"{RANK_0}\\nnative kept\\n")
            child = "import os; os.write(2, b'{RANK_1}\\\\nchild kept\\\\n')"
            subprocess.run([sys.executable, "-c", child], check=True)
            print("python kept", file=sys.stderr)
        os.write(2, b"{RANK_0}\\nafter\\n")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    # after the block nothing is filtered any more: the last rank line is there
    assert result.stderr == f"before\nnative kept\nchild kept\npython kept\n{RANK_0}\nafter\n"


def test_a_stderr_that_fails_does_not_block_the_writers():
    """With the real stderr gone (a closed pipe, ``| head``), the copier reads on and drops: the writers of fd 2
    must never block on a full pipe (here 1 MB, far more than a pipe holds)."""
    script = textwrap.dedent(
        """
        import os, sys
        from uplift_studio.core.native_stderr import filtered_stderr
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(read_end)  # nobody will ever read the real stderr: writing to it fails
        with filtered_stderr():
            for _ in range(1000):
                os.write(2, b"x" * 1023 + b"\\n")
        print("done")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout == "done\n", result.stderr
