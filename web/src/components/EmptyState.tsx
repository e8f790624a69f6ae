import { makeStyles, Text, tokens } from "@fluentui/react-components";
import type { ReactNode } from "react";

const useStyles = makeStyles({
  root: {
    display: "flex",
    flexDirection: "column",
    alignItems: "center",
    textAlign: "center",
    gap: "8px",
    padding: "40px 16px",
    border: `1px dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusLarge,
    backgroundColor: tokens.colorNeutralBackground1,
  },
  icon: { fontSize: "40px", color: tokens.colorBrandForeground1 },
  body: { maxWidth: "36rem", color: tokens.colorNeutralForeground2 },
});

/** Nothing to show yet: say why and what the first step is (e.g. "Upload a VPP token"), with that action. */
export function EmptyState({
  icon,
  title,
  children,
  action,
}: {
  icon?: ReactNode;
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  const s = useStyles();
  return (
    <section className={s.root} aria-label={title}>
      {icon && (
        <span className={s.icon} aria-hidden>
          {icon}
        </span>
      )}
      <Text as="h2" size={500} weight="semibold">
        {title}
      </Text>
      {children && <div className={s.body}>{children}</div>}
      {action}
    </section>
  );
}
