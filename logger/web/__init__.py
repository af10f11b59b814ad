"""``run --web HOST:PORT`` (``web.listen``): a small read-only live page for people without Grafana.

Power now (bought or sold), R/T currents, cumulative energy, the meter status (last reading and
its age, connected / scanning / recovering, signal strength), today's power curve updating live,
and half-hour kWh bars with the day's kWh and cost for today and yesterday; Japanese or English
by the browser's language. The data is what the logger records: the daily CSV files
(:mod:`logger.web.history`) and the live readings (:mod:`logger.web.feed`, a sink); never a
second store. The chart library (uPlot, MIT) is vendored under ``static/vendor/``: no build step,
no CDN, nothing fetched at run time.

Nothing here is imported unless the page is enabled (``logger.app`` imports it lazily).

| module | job |
|---|---|
| ``feed.py`` | the sink: live readings to the event streams without ever blocking the runner |
| ``history.py`` | the CSV files: the day's E7 curve, half-hour and day kWh via ``logger.summary`` |
| ``api.py`` | the JSON answers (status, power, energy) and their parameters |
| ``server.py`` | HTTP: GET/HEAD only, static whitelist, security headers, server-sent events |
"""

from __future__ import annotations

from os import PathLike

from logger.config import ConfigError, Settings


def build_web(settings: Settings, listen: str, env_file: str | PathLike[str] = ".env"):
    """The page's server, bound to ``listen`` but not serving yet (``.start()``); its ``api.feed``
    is the sink to add. :class:`ConfigError` (exit 2) when the address cannot be used or the
    unit price is not a number."""
    from logger.price import PRICE_ENV, env_price, parse_price
    from logger.web.api import Api
    from logger.web.feed import LiveFeed
    from logger.web.history import History
    from logger.web.server import WebServer

    price = None
    found = env_price(env_file)
    if found is not None:
        try:
            price = parse_price(*found)
        except ValueError as exc:
            raise ConfigError(PRICE_ENV, str(exc), "set it in .env to JPY per kWh, e.g. 31, or remove it") from None
    csv = settings.csv
    history = History(csv.directory if csv.enabled else None, csv.filename, settings.meter.tz, settings.meter.unitid,
                      price)
    api = Api(LiveFeed(settings.meter.unitid), history)
    try:
        return WebServer(listen, api)
    except OSError as exc:
        raise ConfigError("web.listen", f"cannot serve the live page on {listen} ({exc.strerror or exc})",
                          "stop the program using that address or choose another one (run --web HOST:PORT, "
                          "web.listen in settings.yml or WEB_LISTEN)") from None
