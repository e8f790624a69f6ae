import { makeStyles, Text, tokens } from "@fluentui/react-components";
import type { ReactNode } from "react";

const useStyles = makeStyles({
  root: {
    display: "flex",
    alignItems: "flex-start",
    justifyContent: "space-between",
    gap: "16px",
    marginBottom: "16px",
    flexWrap: "wrap",
  },
  desc: { color: tokens.colorNeutralForeground2, display: "block", marginTop: "4px" },
  actions: { display: "flex", gap: "8px", alignItems: "center", flexWrap: "wrap" },
});

/** The page's one h1, an optional one-line description and the page's actions on the right. */
export function PageHeader({
  title,
  description,
  actions,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
}) {
  const s = useStyles();
  return (
    <header className={s.root}>
      <div>
        <Text as="h1" size={700} weight="semibold" block>
          {title}
        </Text>
        {description && (
          <Text as="p" className={s.desc}>
            {description}
          </Text>
        )}
      </div>
      {actions && <div className={s.actions}>{actions}</div>}
    </header>
  );
}
