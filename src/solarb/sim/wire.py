"""JSON shapes of the Solana RPC, shared by the cluster's HTTP and WebSocket servers.

Pure functions from cluster state to the JSON values a real node returns (account encodings,
``dataSlice``, ``memcmp``/``dataSize`` filters, ``uiTokenAmount``, transaction errors), and the
parsing of request parameters into typed values. A bad parameter raises :class:`RpcRequestError`
carrying the JSON-RPC error code and message the real node uses.

Errors::

    RpcRequestError (Rejected)   the request cannot be served; code/message/data
                                              become the JSON-RPC ``error`` object
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from solarb.dex.base import DecodeError
from solarb.dex.spl_token import (
    MINT_LEN,
    TOKEN_ACCOUNT_LEN,
    TOKEN_PROGRAMS,
    decode_mint,
    decode_token_account,
)
from solarb.errors import Rejected
from solarb.sim.accounts import Account

__all__ = [
    "API_VERSION",
    "FEATURE_SET",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "INTERNAL_ERROR",
    "TX_SIMULATION_FAILED",
    "TX_SIGNATURE_VERIFICATION",
    "MIN_CONTEXT_SLOT_NOT_REACHED",
    "UNSUPPORTED_TX_VERSION",
    "RpcRequestError",
    "b58decode",
    "b58encode",
    "invalid_params",
    "config_of",
    "parse_pubkey",
    "parse_signature",
    "parse_hash",
    "decode_transaction",
    "encode_account",
    "account_matches",
    "parse_filters",
    "ui_token_amount",
    "token_mint_decimals",
    "transaction_error_message",
    "status_of",
    "encode_transaction",
    "decode_binary",
]

API_VERSION = "2.0.15"
FEATURE_SET = 607245837

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TX_SIMULATION_FAILED = -32002
TX_SIGNATURE_VERIFICATION = -32003
UNSUPPORTED_TX_VERSION = -32015
MIN_CONTEXT_SLOT_NOT_REACHED = -32016

_MAX_BASE58_BYTES = 128
_MAX_FILTERS = 4


class RpcRequestError(Rejected):
    """A JSON-RPC request that cannot be served; becomes ``{"code", "message", "data"?}``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        """The JSON-RPC ``error`` object."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 of ``data`` (leading zero bytes become ``1``)."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58_ALPHABET[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; ValueError on a character outside the alphabet."""
    n = 0
    for c in text:
        try:
            n = n * 58 + _B58_INDEX[c]
        except KeyError:
            raise ValueError(f"invalid base58 character {c!r}") from None
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def invalid_params(message: str) -> RpcRequestError:
    """A -32602 error with the node's message."""
    return RpcRequestError(INVALID_PARAMS, message)


def config_of(params: Sequence[Any], index: int) -> Mapping[str, Any]:
    """The optional config object at ``params[index]`` ({} when absent or null)."""
    if len(params) <= index or params[index] is None:
        return {}
    cfg = params[index]
    if not isinstance(cfg, dict):
        raise invalid_params(f"Invalid params: expected a config object at position {index}.")
    return cfg


def parse_pubkey(value: Any) -> Pubkey:
    """A base58 pubkey parameter; -32602 ``Invalid param: ...`` otherwise."""
    if not isinstance(value, str):
        raise invalid_params("Invalid params: expected a base58 string.")
    try:
        return Pubkey.from_string(value)
    except ValueError as exc:
        raise invalid_params("Invalid param: Invalid") from exc


def parse_signature(value: Any) -> Signature:
    """A base58 transaction signature parameter."""
    if not isinstance(value, str):
        raise invalid_params("Invalid params: expected a base58 signature.")
    try:
        return Signature.from_string(value)
    except ValueError as exc:
        raise invalid_params("Invalid param: Invalid") from exc


def parse_hash(value: Any) -> Hash:
    """A base58 blockhash parameter."""
    if not isinstance(value, str):
        raise invalid_params("Invalid params: expected a base58 blockhash.")
    try:
        return Hash.from_string(value)
    except ValueError as exc:
        raise invalid_params("Invalid param: Invalid") from exc


def decode_binary(value: Any, encoding: str) -> bytes:
    """Decode a base58/base64 parameter (a serialized transaction or message)."""
    if not isinstance(value, str):
        raise invalid_params("Invalid params: expected an encoded string.")
    try:
        if encoding == "base64":
            return base64.b64decode(value, validate=True)
        if encoding in ("base58", "binary"):
            return b58decode(value)
    except ValueError as exc:
        raise invalid_params(f"invalid {encoding} encoding: {exc}") from exc
    raise invalid_params(f"unsupported encoding: {encoding}. Supported encodings: base58, base64")


def decode_transaction(value: Any, encoding: str) -> VersionedTransaction:
    """Decode a wire transaction (legacy or v0)."""
    raw = decode_binary(value, encoding)
    try:
        return VersionedTransaction.from_bytes(raw)
    except ValueError as exc:
        raise invalid_params(
            f"failed to deserialize solana_transaction::versioned::VersionedTransaction: {exc}"
        ) from exc


def _slice(data: bytes, data_slice: Mapping[str, Any] | None) -> bytes:
    if not data_slice:
        return data
    try:
        offset = int(data_slice["offset"])
        length = int(data_slice["length"])
    except (KeyError, TypeError, ValueError) as exc:
        raise invalid_params("Invalid params: dataSlice needs integer offset and length.") from exc
    if offset < 0 or length < 0:
        raise invalid_params("Invalid params: dataSlice offset and length must be >= 0.")
    return data[offset : offset + length]


def encode_account(
    account: Account,
    encoding: str = "binary",
    data_slice: Mapping[str, Any] | None = None,
    mint_decimals: int | None = None,
) -> dict[str, Any]:
    """The ``UiAccount`` JSON of ``account``: data in ``encoding`` (binary = bare base58 string,
    base58/base64 = ``[text, encoding]``, jsonParsed = parsed SPL token data or base64 fallback),
    after ``dataSlice``. ``mint_decimals`` is needed to parse a token account as jsonParsed."""
    data = account.data
    out_data: Any
    if encoding == "jsonParsed":
        parsed = _json_parsed(account, mint_decimals)
        out_data = parsed if parsed is not None else [_b64(_slice(data, data_slice)), "base64"]
    else:
        sliced = _slice(data, data_slice)
        if encoding == "base64":
            out_data = [_b64(sliced), "base64"]
        elif encoding in ("base58", "binary"):
            if len(sliced) > _MAX_BASE58_BYTES:
                raise invalid_params(
                    "Encoded binary (base 58) data should be less than 128 bytes, "
                    "please use Base64 encoding."
                )
            text = b58encode(sliced)
            out_data = text if encoding == "binary" else [text, "base58"]
        else:
            raise invalid_params(
                f"Invalid params: unsupported encoding {encoding!r}; "
                "use base64, base58 or jsonParsed."
            )
    return {
        "data": out_data,
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": str(account.owner),
        "rentEpoch": account.rent_epoch,
        "space": len(data),
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _json_parsed(account: Account, mint_decimals: int | None) -> dict[str, Any] | None:
    if account.owner not in TOKEN_PROGRAMS:
        return None
    program = "spl-token" if account.owner == TOKEN_PROGRAMS[0] else "spl-token-2022"
    data = account.data
    try:
        if len(data) >= TOKEN_ACCOUNT_LEN and mint_decimals is not None:
            acc = decode_token_account(data)
            info: dict[str, Any] = {
                "isNative": acc.is_native is not None,
                "mint": str(acc.mint),
                "owner": str(acc.owner),
                "state": "frozen" if acc.state == 2 else "initialized",
                "tokenAmount": ui_token_amount(acc.amount, mint_decimals),
            }
            if acc.delegate is not None:
                info["delegate"] = str(acc.delegate)
                info["delegatedAmount"] = ui_token_amount(acc.delegated_amount, mint_decimals)
            if acc.close_authority is not None:
                info["closeAuthority"] = str(acc.close_authority)
            kind = "account"
        elif len(data) == MINT_LEN:
            mint = decode_mint(data)
            info = {
                "decimals": mint.decimals,
                "freezeAuthority": str(mint.freeze_authority) if mint.freeze_authority else None,
                "isInitialized": mint.is_initialized,
                "mintAuthority": str(mint.mint_authority) if mint.mint_authority else None,
                "supply": str(mint.supply),
            }
            kind = "mint"
        else:
            return None
    except DecodeError:
        return None
    return {"program": program, "parsed": {"info": info, "type": kind}, "space": len(data)}


def token_mint_decimals(get_account: Callable[[Pubkey], Account | None], account: Account) -> int | None:
    """Decimals of the mint of token account ``account`` (looked up with ``get_account``); None when
    ``account`` is not a token account or its mint is unknown."""
    if account.owner not in TOKEN_PROGRAMS or len(account.data) < TOKEN_ACCOUNT_LEN:
        return None
    try:
        mint = get_account(decode_token_account(account.data).mint)
        return decode_mint(mint.data).decimals if mint is not None else None
    except DecodeError:
        return None


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    """``{"amount", "decimals", "uiAmount", "uiAmountString"}`` as the node formats it; the float
    ``uiAmount`` is for display only, ``amount`` is the exact base-unit string."""
    whole, frac = divmod(amount, 10**decimals)
    text = str(whole)
    if decimals and frac:
        text += "." + str(frac).rjust(decimals, "0").rstrip("0")
    return {
        "amount": str(amount),
        "decimals": decimals,
        "uiAmount": amount / 10**decimals,
        "uiAmountString": text,
    }


def parse_filters(raw: Any) -> list[tuple[int, bytes] | int]:
    """getProgramAccounts/programSubscribe filters: ``dataSize`` -> int, ``memcmp`` -> (offset, bytes)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid_params("Invalid params: filters must be an array.")
    if len(raw) > _MAX_FILTERS:
        raise invalid_params(f"Too many filters provided; max {_MAX_FILTERS}")
    out: list[tuple[int, bytes] | int] = []
    for f in raw:
        if isinstance(f, dict) and "dataSize" in f and isinstance(f["dataSize"], int):
            out.append(int(f["dataSize"]))
        elif isinstance(f, dict) and isinstance(f.get("memcmp"), dict):
            m = f["memcmp"]
            offset, data = m.get("offset"), m.get("bytes")
            if not isinstance(offset, int) or offset < 0 or not isinstance(data, str):
                raise invalid_params("Invalid params: memcmp needs offset and bytes.")
            encoding = m.get("encoding", "base58")
            if encoding == "base58" and len(data) > 175:
                raise invalid_params("Invalid param: encoded binary data should be less than 129 bytes")
            out.append((offset, decode_binary(data, encoding)))
        else:
            raise invalid_params(f"Invalid params: unsupported filter {f!r}.")
    return out


def account_matches(data: bytes, filters: Sequence[tuple[int, bytes] | int]) -> bool:
    """True if the account data passes every filter."""
    for f in filters:
        if isinstance(f, int):
            if len(data) != f:
                return False
        else:
            offset, expected = f
            if data[offset : offset + len(expected)] != expected:
                return False
    return True


def status_of(err: Any) -> dict[str, Any]:
    """The legacy ``status`` field: ``{"Ok": null}`` or ``{"Err": err}``."""
    return {"Ok": None} if err is None else {"Err": err}


_TX_ERROR_TEXT = {
    "AccountInUse": "Account in use",
    "AccountLoadedTwice": "Account loaded twice",
    "AccountNotFound": "Attempt to debit an account but found no record of a prior credit.",
    "ProgramAccountNotFound": "Attempt to load a program that does not exist",
    "InsufficientFundsForFee": "Insufficient funds for fee",
    "InvalidAccountForFee": "This account may not be used to pay transaction fees",
    "AlreadyProcessed": "This transaction has already been processed",
    "BlockhashNotFound": "Blockhash not found",
    "SignatureFailure": "Transaction did not pass signature verification",
    "SanitizeFailure": "Transaction failed to sanitize accounts offsets correctly",
    "InvalidAccountIndex": "Transaction contains an invalid account reference",
    "InsufficientFundsForRent": "Transaction results in an account with insufficient funds for rent",
}

_IX_ERROR_TEXT = {
    "InvalidArgument": "invalid program argument",
    "InvalidInstructionData": "invalid instruction data",
    "InvalidAccountData": "invalid account data for instruction",
    "AccountDataTooSmall": "account data too small for instruction",
    "InsufficientFunds": "insufficient funds for instruction",
    "IncorrectProgramId": "incorrect program id for instruction",
    "MissingRequiredSignature": "missing required signature for instruction",
    "AccountAlreadyInitialized": "instruction requires an uninitialized account",
    "UninitializedAccount": "instruction requires an initialized account",
    "NotEnoughAccountKeys": "insufficient account keys for instruction",
    "AccountNotRentExempt": "An account does not have enough lamports to be rent-exempt",
    "ComputationalBudgetExceeded": "Computational budget exceeded",
    "UnsupportedProgramId": "Unsupported program id",
}


def transaction_error_message(err: Any) -> str:
    """The node's Display text for a TransactionError JSON value (used in -32002 messages)."""
    if isinstance(err, str):
        return _TX_ERROR_TEXT.get(err, err)
    if isinstance(err, dict) and "InstructionError" in err:
        index, ix_err = err["InstructionError"]
        if isinstance(ix_err, dict) and "Custom" in ix_err:
            text = f"custom program error: {int(ix_err['Custom']):#x}"
        elif isinstance(ix_err, str):
            text = _IX_ERROR_TEXT.get(ix_err, ix_err)
        else:
            text = str(ix_err)
        return f"Error processing Instruction {index}: {text}"
    if isinstance(err, dict) and len(err) == 1:
        ((name, value),) = err.items()
        if name == "InsufficientFundsForRent":
            return f"Transaction results in an account ({value['account_index']}) with insufficient funds for rent"
        return f"{name}: {value}"
    return str(err)


def _token_balance(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    if hasattr(entry, "to_json"):
        return dict(entry.to_json())
    index, mint, owner, program_id, amount, decimals = entry
    return {
        "accountIndex": int(index),
        "mint": str(mint),
        "owner": str(owner),
        "programId": str(program_id),
        "uiTokenAmount": ui_token_amount(int(amount), int(decimals)),
    }


def _message_json(tx: VersionedTransaction) -> dict[str, Any]:
    msg = tx.message
    header = msg.header
    out: dict[str, Any] = {
        "accountKeys": [str(k) for k in msg.account_keys],
        "header": {
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
            "numRequiredSignatures": header.num_required_signatures,
        },
        "instructions": [
            {
                "accounts": list(ix.accounts),
                "data": b58encode(bytes(ix.data)),
                "programIdIndex": ix.program_id_index,
                "stackHeight": None,
            }
            for ix in msg.instructions
        ],
        "recentBlockhash": str(msg.recent_blockhash),
    }
    lookups = getattr(msg, "address_table_lookups", None)
    if lookups is not None:
        out["addressTableLookups"] = [
            {
                "accountKey": str(lk.account_key),
                "readonlyIndexes": list(lk.readonly_indexes),
                "writableIndexes": list(lk.writable_indexes),
            }
            for lk in lookups
        ]
    return out


def encode_transaction(details: Any, encoding: str, max_version: Any) -> dict[str, Any]:
    """The getTransaction result for a landed transaction (``details`` from ``Bank.transaction``):
    ``{slot, blockTime, meta, transaction, version?}`` with ``transaction`` as JSON or
    ``[data, encoding]``. Raises -32015 for a v0 transaction without maxSupportedTransactionVersion."""
    tx: VersionedTransaction = details.transaction
    is_legacy = not hasattr(tx.message, "address_table_lookups")
    if not is_legacy and max_version is None:
        raise RpcRequestError(
            UNSUPPORTED_TX_VERSION,
            "Transaction version (0) is not supported by the requesting client. Please try the "
            'request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
        )
    raw = bytes(tx)
    if encoding == "base64":
        tx_json: Any = [_b64(raw), "base64"]
    elif encoding == "base58":
        tx_json = [b58encode(raw), "base58"]
    else:
        tx_json = {"message": _message_json(tx), "signatures": [str(s) for s in tx.signatures]}
    return_data = getattr(details, "return_data", None)
    meta: dict[str, Any] = {
        "computeUnitsConsumed": int(details.units_consumed),
        "err": details.err,
        "fee": int(details.fee),
        "innerInstructions": [],
        "logMessages": list(details.logs),
        "postBalances": [int(b) for b in details.post_balances],
        "postTokenBalances": [_token_balance(e) for e in details.post_token_balances],
        "preBalances": [int(b) for b in details.pre_balances],
        "preTokenBalances": [_token_balance(e) for e in details.pre_token_balances],
        "rewards": [],
        "status": status_of(details.err),
    }
    if not is_legacy:
        meta["loadedAddresses"] = {"readonly": [], "writable": []}
    if return_data is not None:
        program_id, data = return_data
        meta["returnData"] = {"data": [_b64(data), "base64"], "programId": str(program_id)}
    out: dict[str, Any] = {
        "blockTime": getattr(details, "block_time", None),
        "meta": meta,
        "slot": int(details.slot),
        "transaction": tx_json,
    }
    if max_version is not None:
        out["version"] = "legacy" if is_legacy else 0
    return out
