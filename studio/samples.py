"""Page through a project's samples with `limit` and `offset`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from models.studio import ListSamplesResponse, Sample

logger = logging.getLogger(__name__)

# Fetches the page that starts at `offset` and contains at most `limit` samples.
FetchPage = Callable[[int, int], ListSamplesResponse]


def iter_sample_pages(fetch_page: FetchPage, *, page_size: int) -> Iterator[Sample]:
    """Yield every sample of a listing once, fetching one page at a time.

    Paging stops at the first empty page or once `offset` reaches
    `totalCount`. The offset advances by the number of samples received,
    so a server that returns fewer than `page_size` still gets every page.
    Samples are yielded in Studio's order, and a sample that a later page
    repeats (because one was added while paging) is skipped.

    NOTE: offset paging cannot notice a sample that was deleted while it
    ran, which shifts later samples one page back, so one sample may be
    missed. The next run lists it.
    """
    seen: set[int] = set()
    offset = 0
    repeated = 0
    while True:
        page = fetch_page(offset, page_size)
        for sample in page.samples:
            if sample.id in seen:
                repeated += 1
                continue
            seen.add(sample.id)
            yield sample

        offset += len(page.samples)
        if not page.samples or offset >= page.total_count:
            break

    if repeated:
        logger.info("Skipped %d samples that Studio listed twice while paging", repeated)
