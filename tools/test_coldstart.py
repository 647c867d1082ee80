"""tools/coldstart.py reads a process's page faults from /proc: its own, not its children's."""

import mmap
import os
import pathlib
import subprocess
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from coldstart import page_faults  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


class PageFaults(unittest.TestCase):
    def test_touching_fresh_pages_counts_one_fault_each(self):
        pages = 8192
        memory = mmap.mmap(-1, pages * PAGE)  # anonymous: each page zeroed by the kernel on first touch
        before = page_faults(os.getpid())
        for offset in range(0, len(memory), PAGE):
            memory[offset] = 1
        memory.close()
        self.assertGreaterEqual(page_faults(os.getpid()) - before, pages * 9 // 10)

    def test_a_finished_childs_faults_are_not_counted(self):
        before = page_faults(os.getpid())
        subprocess.run(
            [sys.executable, "-c", f"import mmap; m = mmap.mmap(-1, {8192 * PAGE}); m[::{PAGE}] = b'x' * 8192"],
            check=True,
        )
        # The child's faults go to the parent's cminflt (field 11), which a cold start must not count.
        self.assertLess(page_faults(os.getpid()) - before, 4096)

    def test_no_pid_is_not_measured(self):
        self.assertIsNone(page_faults(None))


if __name__ == "__main__":
    unittest.main()
