"""The command line's several-offers branch (issue 12): ``score``, ``report``, ``targets``, ``export`` and
``serve`` when the data has several offers (``--arms``, ``--arm-cost``, ``--redemption-cost`` or the simulated
``--offers``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import resources

import numpy as np
import polars as pl

from uplift_studio.cli_options import _split, check_economics, column_map, model_settings
from uplift_studio.core.data import CONVERTED, ID, REVENUE
from uplift_studio.core.errors import DataError
from uplift_studio.core.examples import parse_example
from uplift_studio.core.formats import format_money
from uplift_studio.core.offers import ARM, OfferExperiment, load_offer_experiment, parse_amounts
from uplift_studio.core.outputs import write_frame, write_json
from uplift_studio.core.reading import read_table

_OFFER_FLAGS = ("arms", "arm_cost", "redemption_cost", "arm_shares")


def add_offer_options(parser: argparse.ArgumentParser, evaluation: bool = True) -> None:
    """The several-offers flags; ``evaluation=False`` for ``serve``, whose app measures with DR scores."""
    group = parser.add_argument_group(
        "several offers (any of these flags: who gets which offer under the budget; the treatment column holds "
        "the control label, --control-value, and the offers' labels)"
    )
    group.add_argument("--offers", action="store_true", help="without --data: the simulated three-offer campaign")
    group.add_argument("--arms", help="comma-separated offer labels to compare (default: every non-control label)")
    group.add_argument(
        "--arm-cost",
        help='contact cost per offer, e.g. "Mens E-Mail=0.10,Womens E-Mail=0.12" (default: --cost-per-contact)',
    )
    group.add_argument("--redemption-cost", help='cost per conversion of an offer, e.g. "Discount=5" (default 0)')
    group.add_argument("--arm-shares", help='design shares of every arm, control included, e.g. "No E-Mail=0.34,..."')
    if not evaluation:
        return
    group.add_argument(
        "--evaluation",
        choices=("dr", "ipw"),
        default="dr",
        help="scores that measure value and spend: dr (doubly robust) or ipw; default %(default)s",
    )


def cmd_offers_simulate(args: argparse.Namespace) -> int:
    """``simulate --offers``: the three-offer campaign's file (labels in ``offer``) and, with --truth, its truth."""
    from uplift_studio.core.simulate_offers import simulate_offer_campaign

    if args.users < 40:
        raise DataError(f"--users must be at least 40 for a simulated offer campaign, got {args.users}.")
    if args.seed < 0:
        raise DataError(f"--seed must be a whole number >= 0, got {args.seed}.")
    frame, truth = simulate_offer_campaign(args.users, args.seed)
    write_frame(frame, args.out)
    if args.truth is not None:
        write_frame(truth, args.truth)
    print(
        f"wrote {frame.height:,} users of the three-offer campaign to {args.out}"
        + (f", truth to {args.truth}" if args.truth else "")
        + ' (analyse it with --treatment offer --control-value "No offer")'
    )
    return 0


def offers_requested(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "offers", False)) or any(getattr(args, flag, None) for flag in _OFFER_FLAGS)


def offer_experiment_from_args(args: argparse.Namespace) -> OfferExperiment:
    """The multi-offer experiment the data and offer flags name: a file, a bundled example, or the simulation."""
    from uplift_studio.core.simulate_offers import simulated_offers

    if args.seed < 0:
        raise DataError(f"--seed must be a whole number >= 0, got {args.seed}.")
    contact = parse_amounts(args.arm_cost, "arm_cost")
    redemption = parse_amounts(args.redemption_cost, "redemption_cost")
    shares = parse_amounts(args.arm_shares, "arm_shares") or None
    if args.data is None:
        if args.users < 40:
            raise DataError(f"--users must be at least 40 for a simulated offer campaign, got {args.users}.")
        if shares is not None:
            raise DataError("--arm-shares applies to a data file; the simulated campaign's shares are a quarter each.")
        return simulated_offers(args.users, args.seed, contact_cost=contact or None, redemption_cost=redemption or None)
    chosen = parse_example(str(args.data))
    columns = column_map(args, chosen)
    options = {
        "arms": _split(args.arms),
        "contact_cost": contact,
        "redemption_cost": redemption,
        "default_contact_cost": args.cost_per_contact,
        "arm_shares": shares,
        "revenue_per_conversion": args.revenue_per_conversion,
    }
    if chosen is None:
        return load_offer_experiment(args.data, columns, **options)
    with resources.as_file(chosen.path) as path:
        return load_offer_experiment(
            path, columns, source=f"{chosen.spec} (uplift_studio/examples/{chosen.filename})", **options
        )


def _analysis(args: argparse.Namespace, progress: Callable[[int, int], None]):
    from uplift_studio.core.offers_analysis import run_offer_analysis

    check_economics(args)
    experiment = offer_experiment_from_args(args)
    analysis = run_offer_analysis(
        experiment, model_settings(args), population=args.population, method=args.evaluation, progress=progress
    )
    return experiment, analysis


def cmd_offers_report(args: argparse.Namespace, progress: Callable[[int, int], None]) -> int:
    from uplift_studio.core.analysis import versions
    from uplift_studio.core.offers_report import format_offer_report, offer_report_dict

    _, analysis = _analysis(args, progress)
    print(format_offer_report(analysis, args.budget))
    if args.json is not None:
        write_json(offer_report_dict(analysis, args.budget, versions()), args.json)
    return 0


def cmd_offers_score(args: argparse.Namespace, progress: Callable[[int, int], None]) -> int:
    experiment, analysis = _analysis(args, progress)
    labels = pl.Series((experiment.control, *experiment.offers))
    arm = labels.gather(experiment.frame.get_column(ARM).cast(pl.UInt32)).alias("treatment")
    outcomes = experiment.frame.select(ID, CONVERTED, REVENUE).insert_column(1, arm)
    write_frame(outcomes.hstack(analysis.scores.to_frame(experiment.offers).drop(ID)), args.out)
    print(
        f"wrote out-of-sample scores of {analysis.n_evaluation:,} users for {len(experiment.offers)} offers "
        f"to {args.out}"
    )
    return 0


def cmd_offers_export(args: argparse.Namespace, progress: Callable[[int, int], None]) -> int:
    """``export`` with several offers: the offline snapshot whose slider moves the KPIs, the mix and the table."""
    from uplift_studio.app.offers_snapshot import write_offer_snapshot

    for flag, given in (("--analysis", args.analysis is not None), ("--explain", args.explain)):
        if given:
            raise DataError(
                f"{flag} is for one offer against control; with several offers, export from the data "
                "(--data FILE with --arms/--arm-cost) without it."
            )
    _, analysis = _analysis(args, progress)
    path = write_offer_snapshot(analysis, args.out, args.budget)
    mix = ", ".join(f"{offer} {count:,}" for offer, count in analysis.mix_at_budget(args.budget).items())
    print(f"wrote the snapshot of {len(analysis.offers)} offers to {path} (at {format_money(args.budget)}: {mix})")
    return 0


def cmd_offers_targets(args: argparse.Namespace, progress: Callable[[int, int], None]) -> int:
    from uplift_studio.core.offers_analysis import allocation_targets
    from uplift_studio.core.offers_models import expected_effects, fit_final_offers

    if getattr(args, "model", None) is not None:
        raise DataError(
            "--model holds a single-offer model; with several offers, leave it out to fit the offers' models."
        )
    if args.score_file is None:
        experiment, analysis = _analysis(args, progress)
        for note in experiment.notes:
            print(f"note: {note}", file=sys.stderr)
        rows = np.flatnonzero(analysis.scores.evaluation)
        scores = analysis.scores
        ids, eir, cost = scores.user_id[rows], scores.eir[rows], scores.cost[rows]
    else:
        check_economics(args)
        experiment = offer_experiment_from_args(args)
        customers = read_table(args.score_file)
        missing = [name for name in experiment.features if name not in customers.columns]
        if missing:
            raise DataError(
                f"{args.score_file}: the feature column(s) {', '.join(map(repr, missing))} of the experiment are "
                "missing. New customers need the same features the models were trained on."
            )
        model = fit_final_offers(experiment, model_settings(args))
        progress(1, 1)
        p, order_value = model.predict(customers.select(experiment.features))
        eir, cost = expected_effects(p, order_value, experiment.contact_cost, experiment.redemption_cost)
        ids = (
            customers.get_column(args.id).to_numpy()
            if args.id and args.id in customers.columns
            else np.arange(1, customers.height + 1)
        )
    contacts = allocation_targets(ids, eir, cost, experiment.offers, args.budget)
    write_frame(contacts, args.out)
    spend = float(contacts["cumulative_spend"][-1]) if contacts.height else 0.0
    mix = contacts.group_by("offer").len().sort("offer")
    shown = ", ".join(f"{offer} {count:,}" for offer, count in mix.iter_rows())
    print(
        f"wrote {contacts.height:,} contacts ({shown}; expected spend ${spend:,.2f} of ${args.budget:,.2f}) "
        f"to {args.out}"
    )
    return 0
