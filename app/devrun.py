"""``make run``: start web, worker and the local mail sink from Procfile.dev."""
from __future__ import annotations

import os
import sys

from app.config import load_config
from app.jobs import redis_available


def main() -> None:
    config = load_config()
    env = dict(os.environ)
    if not redis_available(config["REDIS_URL"]):
        print(f"Redis is not reachable at {config['REDIS_URL']}: jobs will run inline (JOBS_INLINE=1).", flush=True)
        env["JOBS_INLINE"] = "1"
    port = env.setdefault("PORT", "5000")
    env.setdefault("BASE_URL", f"http://127.0.0.1:{port}")
    print(f"Turnaround is starting on http://127.0.0.1:{port}", flush=True)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    honcho = os.path.join(bin_dir, "honcho")
    os.execve(honcho, [honcho, "start", "-f", "Procfile.dev"], env)


if __name__ == "__main__":
    main()
