import type { Metadata } from "next";
import type { ReactNode } from "react";
import { PROJECT_DESCRIPTION, PROJECT_NAME } from "./config";
import "./globals.css";

export const metadata: Metadata = {
  title: PROJECT_NAME,
  ...(PROJECT_DESCRIPTION !== "" && { description: PROJECT_DESCRIPTION }),
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
