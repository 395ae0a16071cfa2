"""The master's pure policy: rules as functions of plain data (who may watch whom, where a
broadcast goes, bandwidth caps, relay trees, the status projection, the claim rule, flood
limits) and the records they decide on. It imports nothing from the rest of ``master``."""
