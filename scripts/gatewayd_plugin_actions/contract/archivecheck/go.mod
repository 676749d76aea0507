module gatewayd-plugin-actions/archivecheck

go 1.22
