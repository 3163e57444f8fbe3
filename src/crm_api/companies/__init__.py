"""Companies: customers, prospects, partners, suppliers, distributors, competitors."""
