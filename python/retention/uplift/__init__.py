"""Uplift modelling: the effect of a retention contact, learned from randomized campaigns.

learners.py estimates, per customer, how much a contact changes P(retained);
evaluation.py measures targeting rules honestly on a held-out randomized campaign;
targeting.py turns estimated effects of several offers into a contact decision.
"""
