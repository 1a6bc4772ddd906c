"""The table of a run, its details and notes, and BENCHMARKS.md."""

import datetime
import os
import platform
import subprocess

from common import log


class Report:
    """Rows (`self.rows`), details and notes of a run, printed and written."""

    def row(self, name, ours, base, ratio, target, ok):
        result = "info" if ok is None else ("pass" if ok else "**FAIL**")
        self.rows.append((name, ours, base, ratio, target, result))

    def detail(self, text):
        self.details.append(text)
        log(text)

    def machine(self):
        mem = "?"
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        pg = self.q("SHOW server_version", conn=self.admin)[0][0]
        return (f"{os.cpu_count()} cores ({model}), {mem} memory, Linux {platform.release()}, "
                f"PostgreSQL {pg}")

    def revision(self):
        try:
            rev = subprocess.run(["git", "-C", self.source, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", self.source, "status", "--porcelain", "--",
                                    "src", "migrations", "Cargo.toml", "Cargo.lock"],
                                   capture_output=True, text=True).stdout.strip()
            if not rev:
                return f"the tree at {self.source} (not a git checkout)"
            return f"`{rev}`" + (" with uncommitted changes" if dirty else "")
        except OSError:
            return f"the tree at {self.source}"

    def table(self):
        head = ["Measurement", "Ours", "Baseline", "Ratio", "Target", "Result"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)

    def report(self, started, load_before):
        table = self.table()
        print()
        print(table)
        print()
        failed = [r[0] for r in self.rows if r[5] == "**FAIL**"]
        if self.notes:
            print("Notes:\n" + "\n".join(f"- {n}" for n in self.notes))
        out = self.args.output
        if out:
            when = started.strftime("%Y-%m-%d %H:%M UTC")
            text = [
                "# Benchmarks",
                "",
                f"Written by `bench/run{' --smoke' if self.args.smoke else ''}` on {when}, "
                f"in {(datetime.datetime.now(datetime.timezone.utc) - started).seconds // 60} min, "
                f"from revision {self.revision()}.",
                f"Machine: {self.machine()}. Load average before the run: {load_before}.",
                "",
                "Each figure is measured beside its baseline in the same run, on the same machine; "
                "see [bench/README.md](bench/README.md) for how.",
                "",
                table,
                "",
                "## Details",
                "",
                *[f"- {d}" for d in self.details],
            ]
            if self.notes:
                text += ["", "## Notes", "", *[f"- {n}" for n in self.notes]]
            # The written analysis of targets this machine cannot meet, kept beside the driver.
            analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ANALYSIS.md")
            if os.path.exists(analysis):
                text += ["", open(analysis).read().rstrip()]
            with open(out, "w") as f:
                f.write("\n".join(text) + "\n")
            log(f"wrote {out}")
        return failed
