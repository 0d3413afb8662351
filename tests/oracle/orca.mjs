// Differential-test oracle for the Orca Whirlpool adapter.
// Reads one JSON document on stdin, answers one JSON document on stdout (integers as decimal strings).
// Every answer comes from the official packages:
//   quotes -> @orca-so/whirlpools-core swapQuoteByInputToken (out_quotes: swapQuoteByOutputToken)
//   ix     -> @orca-so/whirlpools-client getSwapV2Instruction (+ getTickArrayAddress, getOracleAddress;
//             tick-array start indexes from whirlpools-core getTickArrayStartTickIndex)
//   decode -> @orca-so/whirlpools-client account decoders
//   ticks  -> whirlpools-core tickIndexToSqrtPrice / sqrtPriceToTickIndex
import * as core from "@orca-so/whirlpools-core";
import * as client from "@orca-so/whirlpools-client";
import { address, createNoopSigner } from "@solana/kit";

const big = (s) => BigInt(s);

function ticks88(spec) {
  const ticks = [];
  for (let i = 0; i < 88; i++) {
    ticks.push({
      initialized: false, liquidityNet: 0n, liquidityGross: 0n,
      feeGrowthOutsideA: 0n, feeGrowthOutsideB: 0n, rewardGrowthsOutside: [0n, 0n, 0n],
    });
  }
  for (const [off, net, gross] of spec) {
    ticks[off] = { ...ticks[off], initialized: true, liquidityNet: big(net), liquidityGross: big(gross) };
  }
  return ticks;
}

function oracleFacade(o) {
  if (!o) return null;
  const c = o.constants, v = o.variables;
  return {
    tradeEnableTimestamp: big(o.trade_enable_timestamp),
    adaptiveFeeConstants: {
      filterPeriod: c.filter_period, decayPeriod: c.decay_period, reductionFactor: c.reduction_factor,
      adaptiveFeeControlFactor: c.adaptive_fee_control_factor,
      maxVolatilityAccumulator: c.max_volatility_accumulator, tickGroupSize: c.tick_group_size,
      majorSwapThresholdTicks: c.major_swap_threshold_ticks,
    },
    adaptiveFeeVariables: {
      lastReferenceUpdateTimestamp: big(v.last_reference_update_timestamp),
      lastMajorSwapTimestamp: big(v.last_major_swap_timestamp),
      volatilityReference: v.volatility_reference,
      tickGroupIndexReference: v.tick_group_index_reference,
      volatilityAccumulator: v.volatility_accumulator,
    },
  };
}

function quoteArgs(c) {
  const w = c.whirlpool;
  const seed = new Uint8Array([w.fee_tier_index & 0xff, (w.fee_tier_index >> 8) & 0xff]);
  const whirlpool = {
    feeTierIndexSeed: seed, tickSpacing: w.tick_spacing, feeRate: w.fee_rate,
    protocolFeeRate: w.protocol_fee_rate, liquidity: big(w.liquidity), sqrtPrice: big(w.sqrt_price),
    tickCurrentIndex: w.tick_current_index, feeGrowthGlobalA: 0n, feeGrowthGlobalB: 0n,
    rewardLastUpdatedTimestamp: 0n,
    rewardInfos: [0, 1, 2].map(() => ({ emissionsPerSecondX64: 0n, growthGlobalX64: 0n })),
  };
  const arrays = c.tick_arrays.map((a) => ({ startTickIndex: a.start, ticks: ticks88(a.ticks) }));
  const tf = (x) => (x ? { feeBps: x[0], maxFee: big(x[1]) } : null);
  return [
    big(c.amount), c.a_to_b, 0, whirlpool, oracleFacade(c.oracle), arrays, big(c.timestamp),
    tf(c.transfer_fee_a), tf(c.transfer_fee_b),
  ];
}

function quote(c) {
  try {
    const q = core.swapQuoteByInputToken(...quoteArgs(c));
    return { token_in: q.tokenIn.toString(), amount_out: q.tokenEstOut.toString(), fee: q.tradeFee.toString() };
  } catch (e) {
    return { error: String(e && (e.message || e)) };
  }
}

function quoteOut(c) {
  try {
    const args = quoteArgs(c);
    args[1] = !c.a_to_b; // specified token (the output) is A when swapping b -> a
    const q = core.swapQuoteByOutputToken(...args);
    return { token_in: q.tokenEstIn.toString(), amount_out: q.tokenOut.toString(), fee: q.tradeFee.toString() };
  } catch (e) {
    return { error: String(e && (e.message || e)) };
  }
}

const ROLE = { 0: [false, false], 1: [false, true], 2: [true, false], 3: [true, true] };

async function ix(c) {
  const span = 88 * c.tick_spacing;
  const base = core.getTickArrayStartTickIndex(c.tick_current_index, c.tick_spacing);
  let offsets = c.a_to_b ? [0, -1, -2] : [0, 1, 2];
  if (!c.a_to_b && c.tick_current_index + c.tick_spacing >= base + span) offsets = [1, 2, 3];
  const minStart = core.getTickArrayStartTickIndex(-443636, c.tick_spacing);
  const starts = offsets.map((o) => base + o * span).filter((s) => s >= minStart && s <= 443636);
  const addrs = [];
  for (const s of starts) addrs.push((await client.getTickArrayAddress(address(c.whirlpool), s))[0]);
  while (addrs.length < 3) addrs.push(addrs[addrs.length - 1]);
  const oracle = (await client.getOracleAddress(address(c.whirlpool)))[0];
  const ins = client.getSwapV2Instruction({
    tokenProgramA: address(c.token_program_a), tokenProgramB: address(c.token_program_b),
    tokenAuthority: createNoopSigner(address(c.user)), whirlpool: address(c.whirlpool),
    tokenMintA: address(c.mint_a), tokenMintB: address(c.mint_b),
    tokenOwnerAccountA: address(c.ata_a), tokenVaultA: address(c.vault_a),
    tokenOwnerAccountB: address(c.ata_b), tokenVaultB: address(c.vault_b),
    tickArray0: addrs[0], tickArray1: addrs[1], tickArray2: addrs[2], oracle,
    amount: big(c.amount), otherAmountThreshold: big(c.min_out), sqrtPriceLimit: 0n,
    amountSpecifiedIsInput: true, aToB: c.a_to_b, remainingAccountsInfo: null,
  });
  return {
    program_id: ins.programAddress,
    accounts: ins.accounts.map((m) => [m.address, ...ROLE[m.role]]),
    data: Buffer.from(ins.data).toString("hex"),
  };
}

function plain(v) {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const DECODERS = {
  whirlpool: client.getWhirlpoolDecoder, config: client.getWhirlpoolsConfigDecoder,
  tick_array: client.getTickArrayDecoder, dynamic_tick_array: client.getDynamicTickArrayDecoder,
  oracle: client.getOracleDecoder,
};

function decode(c) {
  const bytes = Buffer.from(c.data, "base64");
  return plain(DECODERS[c.kind]().decode(new Uint8Array(bytes)));
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const doc = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = {
  quotes: (doc.quotes || []).map(quote),
  out_quotes: (doc.out_quotes || []).map(quoteOut),
  ix: await Promise.all((doc.ix || []).map(ix)),
  decode: (doc.decode || []).map(decode),
  sqrt_prices: (doc.ticks || []).map((t) => core.tickIndexToSqrtPrice(t).toString()),
  ticks_of: (doc.prices || []).map((p) => core.sqrtPriceToTickIndex(big(p))),
};
if (doc.bench) {
  // Same-machine timing of swapQuoteByInputToken on the given cases (microseconds per call);
  // the facades are built once, so only the SDK call (incl. its JS<->WASM marshalling) is timed.
  out.bench = doc.bench.map((c) => {
    const n = c.n || 2000;
    const args = quoteArgs(c);
    for (let i = 0; i < 200; i++) core.swapQuoteByInputToken(...args);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) core.swapQuoteByInputToken(...args);
    return Number(process.hrtime.bigint() - t0) / 1000 / n;
  });
}
process.stdout.write(JSON.stringify(out));
