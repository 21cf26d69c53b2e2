"""The power-versus-bake chart of `safedeploy plan --from-endpoint`, drawn with matplotlib (a planning tool, not
on any Lambda's path: it is loaded only here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from safedeploy.cli import CliError


def write_power_chart(
    path: str, minutes: Sequence[int], curves: Mapping[str, Sequence[float]], target: float, env: str
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise CliError(
            "the chart needs matplotlib (requirements-dev.txt); pass --chart to another path later"
        ) from None
    figure, axes = pyplot.subplots(figsize=(8, 4.5))
    for name, values in curves.items():
        axes.plot(list(minutes), list(values), label=name, linestyle="--" if "mid-bake" in name else "-")
    axes.axhline(target, color="grey", linewidth=0.8)
    axes.set_xlabel("bake (minutes, wait_interval_seconds / 60)")
    axes.set_ylabel("chance to roll back a harmful candidate")
    axes.set_ylim(0, 1.02)
    axes.set_title(f"{env}: canary power at the quietest hour's traffic")
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
