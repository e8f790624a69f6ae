import { makeStyles, tokens } from "@fluentui/react-components";

const useStyles = makeStyles({
  root: { display: "flex", alignItems: "center", gap: "8px", minWidth: "140px" },
  track: {
    flex: 1,
    height: "8px",
    borderRadius: "4px",
    backgroundColor: tokens.colorNeutralBackground5,
    overflow: "hidden",
    display: "flex",
  },
  label: { fontVariantNumeric: "tabular-nums", whiteSpace: "nowrap", fontSize: tokens.fontSizeBase200 },
});

/** used / total licenses as a bar; amber from 90 %, red when full or oversubscribed. */
export function UsageBar({
  used,
  total,
  pending = 0,
  label,
}: {
  used: number;
  total: number;
  pending?: number;
  label?: string;
}) {
  const s = useStyles();
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : used > 0 ? 100 : 0;
  const pendingPct = total > 0 ? Math.min(100 - pct, (pending / total) * 100) : 0;
  const color =
    used >= total && (total > 0 || used > 0)
      ? tokens.colorPaletteRedBackground3
      : pct >= 90
        ? tokens.colorPaletteMarigoldBackground3
        : tokens.colorBrandBackground;
  const text = `${used.toLocaleString()} of ${total.toLocaleString()} used`;
  return (
    <div className={s.root}>
      {/* biome-ignore lint/a11y/useSemanticElements: <meter> cannot show the pending part; role=meter keeps the same semantics */}
      <div
        className={s.track}
        role="meter"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={Math.min(used, total)}
        aria-label={label ?? text}
        aria-valuetext={text}
      >
        <div style={{ width: `${pct}%`, backgroundColor: color }} />
        {pendingPct > 0 && (
          <div
            style={{ width: `${pendingPct}%`, backgroundColor: tokens.colorBrandBackground2Hover }}
            title={`${pending} pending`}
          />
        )}
      </div>
      <span className={s.label}>{text}</span>
    </div>
  );
}
