"""KPIs: sales, funnel, marketing, service and leaderboard numbers, computed by SQL aggregates."""
