"""refpay: referrals and payments for employment-support programmes."""
