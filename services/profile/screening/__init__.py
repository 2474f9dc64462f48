"""Sanctions and PEP screening and money-laundering risk rating, inside the profile service
(the only component holding customers' names in clear). See README, "Screening and
money-laundering risk"."""

# The formats lists are published in: OFAC's SDN CSV and FollowTheMoney JSON lines.
LIST_FORMATS = ("sdn-csv", "ftm")
