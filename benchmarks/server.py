"""The benchmark's view of the InvokeAI server: its queue items' timestamps and its node cache.

Plain REST with httpx, independent of the plugin's client, so the measuring does not share code
with what it measures.
"""

from __future__ import annotations

from typing import Any

import httpx

QUEUE = "/api/v1/queue/default"
CACHE = "/api/v1/app/invocation_cache"
IDS_PER_REQUEST = 1000  # InvokeAI 6.14 refuses more ids per items request
SUMMARY_FIELDS = ("item_id", "status", "created_at", "started_at", "completed_at", "destination")


class BenchServer:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=60.0)

    def close(self) -> None:
        self.http.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def version(self) -> str:
        return self._json("GET", "/api/v1/app/version")["version"]

    # -- queue items -------------------------------------------------------------------------

    def last_item_id(self) -> int:
        """The newest queue item id: items of an approach are those above the mark taken before it."""
        ids = self._json("GET", f"{QUEUE}/item_ids")["item_ids"]
        return max(ids, default=0)

    def items_after(self, mark: int) -> list[dict[str, Any]]:
        ids = sorted(i for i in self._json("GET", f"{QUEUE}/item_ids")["item_ids"] if i > mark)
        return self.items(ids)

    def items(self, item_ids: list[int]) -> list[dict[str, Any]]:
        """Timestamps and status of these items (summaries: no graphs or results)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(item_ids), IDS_PER_REQUEST):
            chunk = item_ids[start : start + IDS_PER_REQUEST]
            summaries = self._json("POST", f"{QUEUE}/item_summaries_by_ids", json={"item_ids": chunk})
            found.extend({k: s.get(k) for k in SUMMARY_FIELDS} for s in summaries)
        return found

    def is_idle(self) -> bool:
        status = self._json("GET", f"{QUEUE}/status")["queue"]
        return status["pending"] == 0 and status["in_progress"] == 0

    # -- node cache --------------------------------------------------------------------------

    def cache_status(self) -> dict[str, Any]:
        return self._json("GET", f"{CACHE}/status")

    def disable_cache(self) -> None:
        """Every node really runs: no approach is served results an earlier one computed."""
        self._json("PUT", f"{CACHE}/disable")
        self._json("DELETE", CACHE)

    def enable_cache(self) -> None:
        self._json("PUT", f"{CACHE}/enable")
