"""The services' persistence ports (chalicelib/services/ports.py) on DynamoDB and S3."""
from __future__ import annotations

from . import access_log, compliance, files, payment_records, payments, repository
from .transaction import Transaction


class DynamoOrganisations:
    get = staticmethod(repository.get_organisation)
    save = staticmethod(repository.save_organisation)
    get_key = staticmethod(repository.get_api_key)
    save_key = staticmethod(repository.save_api_key)


class DynamoReferrals:
    get = staticmethod(repository.get_referral)
    get_many = staticmethod(repository.referrals_by_id)
    page = staticmethod(repository.list_referrals)
    events = staticmethod(repository.list_events)
    participant = staticmethod(repository.get_participant)
    add_new = staticmethod(repository.add_new_referral)
    add_change = staticmethod(repository.add_referral_change)
    add_incentive_withdrawn = staticmethod(repository.add_incentive_withdrawn)
    add_flag_raised = staticmethod(repository.add_flag_raised)
    add_party_index = staticmethod(repository.add_party_index)
    add_release = staticmethod(repository.add_release)
    add_transfer_places = staticmethod(repository.add_transfer_places)
    add_commitment = staticmethod(repository.add_commitment)
    add_referral_counter = staticmethod(repository.add_referral_counter)
    allocation_used = staticmethod(repository.allocation_used)
    add_counts = staticmethod(repository.add_counts)
    counts_under = staticmethod(repository.counts_under)


class DynamoIdempotency:
    read_ahead = staticmethod(repository.read_ahead)
    add = staticmethod(repository.add_idempotency)


class DynamoLines:
    add = staticmethod(payments.add_line)
    get = staticmethod(payments.get_line)
    add_decision = staticmethod(payments.add_decision)
    add_spot_decision = staticmethod(payments.add_spot_decision)
    page = staticmethod(payments.list_lines)
    for_period = staticmethod(payments.all_lines)
    of_referral = staticmethod(payments.lines_of_referral)
    queued = staticmethod(payments.queued_lines)
    lock = staticmethod(payments.lock_lines)
    in_file = staticmethod(payments.lines_in_file)
    parts = staticmethod(payments.file_parts)
    get_many = staticmethod(payments.get_lines)
    add_removal = staticmethod(payments.add_removal)


class DynamoClaimFiles:
    get = staticmethod(payments.get_file)
    add = staticmethod(payments.add_file)
    finish = staticmethod(payments.finish_file)
    take_build = staticmethod(payments.take_build)
    record_progress = staticmethod(payments.record_progress)
    release_build = staticmethod(payments.release_build)
    start_sample = staticmethod(payments.start_sample)
    finish_sample = staticmethod(payments.finish_sample)
    add_check_count = staticmethod(payments.add_check_count)
    add_payment = staticmethod(payments.add_payment)


class DynamoValidation:
    sample_rate = staticmethod(payment_records.get_sample_rate)
    add_sample_rate = staticmethod(payment_records.add_sample_rate)
    sample_rate_history = staticmethod(payment_records.sample_rate_history)
    add_drawn = staticmethod(payment_records.add_drawn)
    check = staticmethod(payment_records.get_check)
    checks_page = staticmethod(payment_records.list_checks)
    all_checks = staticmethod(payment_records.all_checks)
    add_outcome = staticmethod(payment_records.add_outcome)


class DynamoSupplyChain:
    obligation = staticmethod(payment_records.get_obligation)
    obligations = staticmethod(payment_records.get_obligations)
    put_obligation = staticmethod(payment_records.put_obligation)
    add_pass_through = staticmethod(payment_records.add_pass_through)
    chain = staticmethod(payment_records.chain)
    pass_throughs = staticmethod(payment_records.pass_throughs)


class DynamoCompliance:
    add_pending_changes = staticmethod(compliance.add_pending_changes)
    due = staticmethod(compliance.due_work)
    done_with = staticmethod(compliance.done_with)
    add_flag = staticmethod(compliance.add_flag)
    open_flags = staticmethod(compliance.open_flags)
    add_answers = staticmethod(compliance.add_answers)
    add_reassignment = staticmethod(compliance.add_reassignment)
    count_attempt = staticmethod(compliance.count_attempt)
    raise_key_flag = staticmethod(compliance.raise_key_flag)
    flags_page = staticmethod(compliance.list_flags)
    get_run = staticmethod(compliance.get_run)
    start_run = staticmethod(compliance.start_run)
    finish_shard = staticmethod(compliance.finish_shard)
    record_partial = staticmethod(compliance.record_partial)
    finish_run = staticmethod(compliance.finish_run)
    add_stats = staticmethod(compliance.add_stats)
    programme_stats = staticmethod(compliance.programme_stats)


class DynamoAccessLog:
    record = staticmethod(access_log.record)
    add = staticmethod(access_log.add)
    page = staticmethod(access_log.page)


class S3Files:
    upload = staticmethod(files.upload)
    download_url = staticmethod(files.download_url)


def components() -> dict:
    """The arguments of a `services.ports.Store` on DynamoDB (the store cannot import the services' types)."""
    return {"transaction": Transaction, "organisations": DynamoOrganisations(), "referrals": DynamoReferrals(),
            "idempotency": DynamoIdempotency(), "lines": DynamoLines(), "claim_files": DynamoClaimFiles(),
            "compliance": DynamoCompliance(), "files": S3Files(), "validation": DynamoValidation(),
            "supply_chain": DynamoSupplyChain(), "access_log": DynamoAccessLog()}
