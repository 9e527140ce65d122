"""Network probes: every cell site, fibre link and agency LAN link probed once a minute.

Latency, loss and throughput follow the diurnal load; sites fail now and then for a few
minutes; the site-outage scenario takes part of a district down and loads the rest.
"""

from __future__ import annotations

import random
from typing import Final

from schemas.events import Technology
from schemas.topics import partition_key
from simulator.province import Province, Site
from simulator.rhythms import network_load
from simulator.scenarios import OUTAGE_SHARE, Scenario, ScenarioKind, find
from simulator.timefmt import MINUTE_MS, IsoFormatter

Batch = list[tuple[int, int, bytes, bytes]]

FAILURE_PER_MINUTE: Final = 1 / 40_000
_CELLS: Final = frozenset({Technology.G2, Technology.G3, Technology.G4, Technology.G5})


class NetworkSource:
    """Generates probe events, one per site per simulated minute."""

    def __init__(
        self, province: Province, seed: int, source_index: int, scenarios: tuple[Scenario, ...]
    ) -> None:
        self._rng = random.Random(f"{seed}:network")
        self._index = source_index
        self._fmt = IsoFormatter()
        self._sites = sorted(province.sites, key=lambda s: (s.phase_ms, s.site_id))
        self._outages = find(scenarios, ScenarioKind.SITE_OUTAGE)
        self._hit: list[Scenario | None] = [self._outage_of(site) for site in self._sites]
        self._down_until = [0] * len(self._sites)
        self._rows = [self._row(site) for site in self._sites]

    def _outage_of(self, site: Site) -> Scenario | None:
        for scenario in self._outages:
            affected = site.district is scenario.district and site.technology is not Technology.LAN
            if affected and self._rng.random() < OUTAGE_SHARE:
                return scenario
        return None

    @staticmethod
    def _row(site: Site) -> tuple[int, str, str, str, bytes, float, float, float, int, float, str]:
        head = '{"event_id":"' + site.site_id + ":"
        mid = '","source":"' + site.source + '","occurred_at":"'
        tail = (
            '","schema_version":1,"district":"'
            + site.district.value
            + '","site_id":"'
            + site.site_id
            + '","technology":"'
            + site.technology.value
            + '","up":'
        )
        return (
            site.phase_ms,
            head,
            mid,
            tail,
            partition_key(site.district.value),
            site.latency_ms,
            site.downlink_mbps,
            site.uplink_mbps,
            site.max_subscribers,
            site.loss_pct,
            site.district.value,
        )

    def tick(self, minute_ms: int, out: Batch) -> None:
        """Append this minute's probes to ``out`` as (occurred_ms, source, key, value)."""
        minute = minute_ms // MINUTE_MS
        base_load = network_load(minute_ms)
        stressed = {s.district.value for s in self._outages if s.active(minute_ms)}
        rnd = self._rng.random
        fmt = self._fmt
        index = self._index
        down_until = self._down_until
        hit = self._hit
        append = out.append
        for i, row in enumerate(self._rows):
            phase, head, mid, tail, key, lat, down, up, subs, loss, district = row
            at = minute_ms + phase
            stamp = fmt(at)
            scenario = hit[i]
            failed = scenario is not None and scenario.active(at)
            if not failed and down_until[i] <= at and rnd() < FAILURE_PER_MINUTE:
                down_until[i] = at + int(MINUTE_MS * (3 + 22 * rnd()))
            if failed or down_until[i] > at:
                body = (
                    "false,"
                    '"latency_ms":null,"loss_pct":null,"downlink_mbps":null,'
                    '"uplink_mbps":null,"subscribers":0}'
                )
            else:
                load = base_load * (0.85 + 0.3 * rnd())
                if district in stressed:
                    load = min(1.0, load * 1.5)
                body = (
                    f'true,"latency_ms":{lat * (1 + 1.8 * load**3) * (0.85 + 0.3 * rnd()):.1f},'
                    f'"loss_pct":{loss * (1 + 8 * load**4) * (0.4 + 1.2 * rnd()):.3f},'
                    f'"downlink_mbps":{down * (1 - 0.55 * load) * (0.8 + 0.4 * rnd()):.2f},'
                    f'"uplink_mbps":{up * (1 - 0.4 * load) * (0.8 + 0.4 * rnd()):.2f},'
                    f'"subscribers":{int(subs * (0.2 + 0.8 * load) * (0.9 + 0.2 * rnd()))}}}'
                )
            append((at, index, key, f"{head}{minute}{mid}{stamp}{tail}{body}".encode()))
