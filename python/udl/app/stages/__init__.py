"""The stages of `udl reproduce`, one module per report (`report000` ... `report004`), each
with `STAGES`: stage name (as in `udl.app.plan.REPORTS`) -> function of a `Context` that
trains, writes its models and figures, and returns the stage's outcome (metrics, figure
captions, settings) for `stages/<report>/<stage>.json`."""
