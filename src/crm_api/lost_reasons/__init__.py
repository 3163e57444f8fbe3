"""Lost reasons: a tenant's list of why deals are lost, so losses can be analysed."""
