// @peculiar/x509 needs the Reflect metadata API; it is only imported on cold
// paths (inspection), which import this module first.
import "reflect-metadata";
