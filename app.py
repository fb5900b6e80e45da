"""refpay: wiring only. The rules live in chalicelib/domain and chalicelib/payments; chalicelib/wiring.py
assembles the API, the authorizer and the schedules."""
from chalicelib.wiring import create_app

app = create_app()
