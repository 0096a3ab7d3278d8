"""The Referral Generation Flow: profiles' origin, the referral journey, codes and rewards (issue 11)."""
