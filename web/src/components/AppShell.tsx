// The frame of every signed-in page: header (product, tenant, administrator, sign-out), left
// navigation, and the page in <main>. A skip link jumps straight to the page for keyboard users.
import { Avatar, Button, makeStyles, mergeClasses, Text, Tooltip, tokens } from "@fluentui/react-components";
import { SignOutRegular } from "@fluentui/react-icons";
import type { ReactNode } from "react";
import { Link, useLocation } from "wouter";
import { roleName } from "../api/roles.ts";
import { useSession, useSignOut } from "../api/session.ts";
import { pages } from "../pages.ts";

const useStyles = makeStyles({
  root: {
    display: "grid",
    gridTemplateRows: "48px 1fr",
    gridTemplateColumns: "220px 1fr",
    height: "100vh",
    minWidth: "1000px",
  },
  header: {
    gridColumn: "1 / 3",
    display: "flex",
    alignItems: "center",
    gap: "16px",
    padding: "0 16px",
    backgroundColor: tokens.colorBrandBackground,
    color: tokens.colorNeutralForegroundOnBrand,
  },
  product: { fontWeight: tokens.fontWeightSemibold, fontSize: tokens.fontSizeBase400, color: "inherit" },
  tenant: {
    color: "inherit",
    borderLeft: "1px solid rgba(255,255,255,.5)",
    paddingLeft: "16px",
  },
  spacer: { flex: 1 },
  who: { display: "flex", alignItems: "center", gap: "8px", color: "inherit" },
  whoText: { display: "flex", flexDirection: "column", lineHeight: "1.1", textAlign: "end" },
  role: { fontSize: tokens.fontSizeBase100 },
  signOut: {
    color: tokens.colorNeutralForegroundOnBrand,
    ":hover": { color: tokens.colorNeutralForegroundOnBrand },
  },
  nav: {
    backgroundColor: tokens.colorNeutralBackground2,
    borderRight: `1px solid ${tokens.colorNeutralStroke2}`,
    padding: "8px 0",
    overflowY: "auto",
  },
  navList: { listStyle: "none", margin: 0, padding: 0 },
  navLink: {
    display: "flex",
    alignItems: "center",
    gap: "10px",
    padding: "8px 16px",
    margin: "2px 8px",
    borderRadius: tokens.borderRadiusMedium,
    color: tokens.colorNeutralForeground1,
    textDecoration: "none",
    ":hover": { backgroundColor: tokens.colorNeutralBackground2Hover },
    ":focus-visible": { outline: `2px solid ${tokens.colorStrokeFocus2}`, outlineOffset: "-2px" },
  },
  active: {
    backgroundColor: tokens.colorNeutralBackground1Selected,
    fontWeight: tokens.fontWeightSemibold,
    boxShadow: `inset 3px 0 0 ${tokens.colorBrandForeground1}`,
  },
  icon: { fontSize: "20px" },
  main: { overflow: "auto", padding: "24px 32px", backgroundColor: tokens.colorNeutralBackground2 },
  skip: {
    position: "absolute",
    left: "-9999px",
    ":focus": {
      left: "8px",
      top: "8px",
      zIndex: 10,
      padding: "8px",
      backgroundColor: tokens.colorNeutralBackground1,
      color: tokens.colorNeutralForeground1,
    },
  },
});

export function AppShell({ children }: { children: ReactNode }) {
  const s = useStyles();
  const session = useSession();
  const signOut = useSignOut();
  const [location] = useLocation();
  const visible = pages.filter((p) => !p.permission || session.permissions.includes(p.permission));
  const isActive = (path: string) =>
    path === "/" ? location === "/" : location === path || location.startsWith(`${path}/`);
  const roles = session.roles.map(roleName).join(", ");
  return (
    <div className={s.root}>
      <a href="#main" className={s.skip}>
        Skip to content
      </a>
      <header className={s.header}>
        <Text className={s.product}>Allot admin center</Text>
        <Text className={s.tenant} title={session.tenantId}>
          {session.tenantName ?? "Default tenant"}
        </Text>
        <span className={s.spacer} />
        <div className={s.who}>
          <span className={s.whoText}>
            <Text weight="semibold" size={200}>
              {session.name}
            </Text>
            <Text className={s.role}>{roles}</Text>
          </span>
          <Avatar name={session.name} size={28} color="neutral" aria-hidden />
          <Tooltip content="Sign out" relationship="label">
            <Button
              appearance="transparent"
              className={s.signOut}
              icon={<SignOutRegular />}
              onClick={signOut}
            />
          </Tooltip>
        </div>
      </header>
      <nav className={s.nav} aria-label="Console">
        <ul className={s.navList}>
          {visible.map((p) => {
            const active = isActive(p.path);
            return (
              <li key={p.path}>
                <Link
                  href={p.path}
                  className={mergeClasses(s.navLink, active && s.active)}
                  aria-current={active ? "page" : undefined}
                >
                  <p.icon className={s.icon} aria-hidden />
                  {p.label}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <main id="main" className={s.main} tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
