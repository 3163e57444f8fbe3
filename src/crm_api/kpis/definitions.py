"""What every KPI means: served at /v1/kpis/definitions and kept next to the SQL that computes it."""

from crm_api.kpis.schemas import Definition

PERIOD = ("The period is the whole days `from`..`to` (both included) in the tenant's time zone. Trashed records "
          "never count.")
ZERO, NULL, EMPTY = "0", "null (no denominator)", "[] (no currency)"
COUNT, RATE, MONEY, DAYS, HOURS = ("count", "fraction 0..1, 4 decimals (string)", "money per currency",
                                   "days, 2 decimals (string)", "hours, 2 decimals (string)")

UNRATED = ("A converted figure is null when a currency in it has no rate: money is never converted with an "
           "invented rate.")
_SALES: list[tuple[str, str, str, str, bool]] = [
    ("new_leads", COUNT, "Leads created in the period (owner_id: the lead's owner).", ZERO, True),
    ("leads_mql", COUNT, "Leads created in the period whose status is now mql, sql or converted.", ZERO, True),
    ("leads_sql", COUNT, "Leads created in the period whose status is now sql or converted.", ZERO, True),
    ("qualification_rate", RATE, "leads_mql / new_leads.", NULL, True),
    ("new_deals", COUNT, "Deals created in the period.", ZERO, True),
    ("deals_won", COUNT, "Deals now won whose won_at is in the period.", ZERO, True),
    ("deals_lost", COUNT, "Deals now lost whose lost_at is in the period.", ZERO, True),
    ("win_rate", RATE, "deals_won / (deals_won + deals_lost).", NULL, True),
    ("close_rate", RATE, "Deals created in the period that are now won / new_deals.", NULL, True),
    ("new_revenue", MONEY, "Sum of the amounts of deals_won, per currency (no conversion).", EMPTY, True),
    ("average_deal_size", MONEY, "Average amount of deals_won that have an amount, per currency, 2 decimals.",
     EMPTY, True),
    ("average_sales_cycle_days", DAYS, "Average of won_at - created_at over deals_won.", "null", True),
    ("open_deals", COUNT, "Deals open now (a snapshot: not bound to the period; not in day/week/month groups).",
     ZERO, False),
    ("open_pipeline_value", MONEY, "Sum of the amounts of open_deals, per currency.", EMPTY, False),
    ("weighted_pipeline_value", MONEY, "Sum of amount x stage probability / 100 over open_deals, per currency.",
     EMPTY, False),
    ("proposals_sent", COUNT, "Deals that entered a stage flagged is_proposal in the period (each deal once).",
     ZERO, True),
    ("calls_logged", COUNT, "Call activities whose occurred_at is in the period and not in the future "
                            "(owner_id: the activity's owner; pipeline_id does not apply).", ZERO, True),
    ("meetings_logged", COUNT, "Meeting activities whose starts_at is in the period and not in the future.",
     ZERO, True),
    ("meetings_per_won_deal", RATE, "meetings_logged / deals_won.", NULL, True),
    ("new_customers", COUNT, "Companies whose first won deal (ever) was won in the period.", ZERO, True),
    ("retained_customers", COUNT, "Companies with a deal won in the period and one won before it "
                                  "(totals only).", ZERO, False),
    ("converted", "money in the tenant's default currency",
     f"Only when the tenant has set exchange rates: new_revenue, open_pipeline_value and weighted_pipeline_value "
     f"as exact sums of amount x rate (the default currency's rate is 1), and average_deal_size as that revenue "
     f"over the won deals with an amount, to the cent (half up). {UNRATED}", "null (no rates set)", False),
    ("renewal_rate", RATE, "Of the deals marked is_renewal that were closed in the period, the share won: "
                           "renewals won / (renewals won + renewals lost).", NULL, True),
]
CLOCK = ("Where an SLA policy applies: the SLA clock, i.e. business time of the policy's calendar (24/7 without "
         "business hours; holidays and time zone included) less the time the clock was paused (pending, or "
         "resolved before a reopening); else calendar time.")
_SERVICE: list[tuple[str, str, str, str, bool]] = [
    ("cases_opened", COUNT, "Cases created in the period.", ZERO, True),
    ("cases_resolved", COUNT, "Cases whose resolved_at is in the period.", ZERO, True),
    ("same_day_resolution_rate", RATE, "Of cases_resolved, those resolved on the local day they were created.",
     NULL, True),
    ("average_first_response_hours", HOURS, "Average time from creation to the first public reply over cases "
                                            f"first answered in the period. {CLOCK}", "null", True),
    ("median_first_response_hours", HOURS, "Median of the same.", "null", True),
    ("average_resolution_hours", HOURS, f"Average time from creation to resolved_at over cases_resolved. {CLOCK}",
     "null", True),
    ("median_resolution_hours", HOURS, "Median of the same.", "null", True),
    ("sla_compliance_rate", RATE, "Of cases_resolved under an SLA policy, those with neither a first response "
                                  "nor a resolution breach.", NULL, True),
    ("breached_cases", COUNT, "Cases whose first SLA breach happened in the period.", ZERO, True),
    ("reopen_rate", RATE, "Of cases_resolved, those reopened at least once.", NULL, True),
    ("csat_average", "score, 2 decimals (string)", "Average satisfaction_score of ratings given in the period.",
     "null", True),
    ("csat_responses", COUNT, "Satisfaction ratings given in the period.", ZERO, True),
    ("cases_per_channel", "count per channel", "cases_opened by channel.", "{}", False),
]
_OTHER: list[tuple[str, str, str, str, str]] = [
    ("funnel.entered", "/v1/kpis/funnel", COUNT, "Deals (each once) that entered the stage in the period.", ZERO),
    ("funnel.conversion_to_next", "/v1/kpis/funnel", RATE,
     "Of the deals that entered the (open) stage in the period, those that later entered a stage further on "
     "in the same pipeline that is not lost; null for won and lost stages.", NULL),
    ("funnel.average_days", "/v1/kpis/funnel", DAYS, "Average stay in the stage of the stays that began in the "
                                                      "period and have ended.", "null"),
    ("funnel.median_days", "/v1/kpis/funnel", DAYS, "Median of the same.", "null"),
    ("marketing.leads", "/v1/kpis/marketing", COUNT, "Leads created in the period, per campaign or lead source.",
     ZERO),
    ("marketing.conversions", "/v1/kpis/marketing", COUNT,
     "Of those leads, the ones converted with a deal that is now won (became customers).", ZERO),
    ("marketing.revenue", "/v1/kpis/marketing", MONEY, "Amounts of deals won in the period carrying the campaign "
                                                        "(or deal source), per currency.", EMPTY),
    ("marketing.cost", "/v1/kpis/marketing", "money", "The campaign's whole cost (not prorated).", "null"),
    ("marketing.cost_per_lead", "/v1/kpis/marketing", "money", "cost / leads, 2 decimals.", "null (no leads)"),
    ("marketing.roi", "/v1/kpis/marketing", RATE.replace("0..1", ""),
     "(revenue in the cost's currency - cost) / cost; may be negative.", "null (no cost)"),
    ("marketing.customer_lifetime_value", "/v1/kpis/marketing", MONEY,
     "Won amounts up to the period's end / companies with such deals, per currency.", EMPTY),
    ("marketing.cross_sell_rate", "/v1/kpis/marketing", RATE,
     "Companies with won deals in more than one pipeline / companies with won deals (up to the period's end).",
     NULL),
    ("marketing.subscribers_added", "/v1/kpis/marketing", COUNT,
     "Contacts with lifecycle_stage subscriber created in the period.", ZERO),
    ("marketing.subscriber_growth_rate", "/v1/kpis/marketing", RATE,
     "subscribers_added / subscribers created before the period.", NULL),
    ("marketing.converted", "/v1/kpis/marketing", "money in the tenant's default currency",
     "Only when the tenant has set exchange rates, per campaign or source row: revenue and cost as exact sums of "
     "amount x rate, cost_per_lead that cost / leads to the cent (half up), roi (converted revenue - converted "
     f"cost) / converted cost (so revenue in every currency counts, unlike roi). {UNRATED}", "null (no rates set)"),
    ("marketing.customer_lifetime_value_converted", "/v1/kpis/marketing", "money in the tenant's default currency",
     "Only when the tenant has set exchange rates: won amounts up to the period's end in every currency, "
     f"converted, / companies with such deals, to the cent (half up). {UNRATED}", "null (no rates set)"),
    ("leaderboard.won_revenue", "/v1/kpis/leaderboard", MONEY, "new_revenue of the user's deals.", EMPTY),
    ("leaderboard.won_revenue_converted", "/v1/kpis/leaderboard", "money in the tenant's default currency",
     f"won_revenue converted with the tenant's exchange rates (only when it has set some). {UNRATED}",
     "null (no rates set)"),
    ("sales.group_by", "/v1/kpis/sales", "grouping",
     "team: the team of the record's owner (users.team). country: the address country of the deal's (or "
     "activity's) company; leads have no company, so lead metrics are null in country groups, and open deals "
     "are not split by country. Customer metrics split by day, week and month only.", "groups with no records "
     "are left out"),
    ("leaderboard.deals_won", "/v1/kpis/leaderboard", COUNT, "deals_won of the user's deals.", ZERO),
    ("leaderboard.win_rate", "/v1/kpis/leaderboard", RATE, "win_rate of the user's deals.", NULL),
    ("leaderboard.activities_logged", "/v1/kpis/leaderboard", COUNT,
     "Activities of any type the user owns, created in the period.", ZERO),
]

DEFINITIONS = [
    *(Definition(name=n, endpoint="/v1/kpis/sales", unit=u, definition=f"{d} {PERIOD}", empty=e, timeseries=ts)
      for n, u, d, e, ts in _SALES),
    *(Definition(name=n, endpoint="/v1/kpis/service", unit=u, definition=f"{d} {PERIOD}", empty=e, timeseries=ts)
      for n, u, d, e, ts in _SERVICE),
    *(Definition(name=n, endpoint=ep, unit=u, definition=f"{d} {PERIOD}", empty=e, timeseries=False)
      for n, ep, u, d, e in _OTHER),
]
SALES_SERIES = {n for n, *_, ts in _SALES if ts}
SERVICE_SERIES = {n for n, *_, ts in _SERVICE if ts}
