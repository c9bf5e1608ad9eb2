# shellcheck shell=bash
# Apple .mobileconfig profiles for the beds where our client imports one (`ikeway profile
# import`): an IKEv2 VPN payload that names the strongSwan responder of lib/netns.sh's topology
# ($IKW_SRV_ADDR, srv.ikeway.test) and authenticates us (cli.ikeway.test) with the bed's PSK.
# Source lib/netns.sh first.
#
# Functions:
#   ikw_profile_psk ID NAME UUID VPN_UUID [DISPLAY_NAME]
#       print the profile: PayloadIdentifier ID (its VPN payload ID.vpn), the configuration's
#       name NAME (UserDefinedName), the two PayloadUUIDs, and the IKEv2 dictionary's
#       RemoteAddress, RemoteIdentifier, LocalIdentifier, AuthenticationMethod SharedSecret and
#       SharedSecret ($PSK), followed by whatever keys stdin holds (the bed's own: On Demand
#       rules, IncludeAllNetworks, SA parameters ...).
#   ikw_profile_sa WHICH ENCRYPTION INTEGRITY GROUP
#       print an IKESecurityAssociationParameters (WHICH=IKE) or
#       ChildSecurityAssociationParameters (WHICH=Child) key and dictionary.
#
# Reads: PSK, IKW_SRV_ADDR.

ikw_profile_psk() { # ID NAME UUID VPN_UUID [DISPLAY_NAME]
    local extra
    extra="$(cat)"
    cat <<PROFILE
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>$1</string>
<key>PayloadUUID</key><string>$3</string>
<key>PayloadDisplayName</key><string>${5:-$2}</string>
<key>PayloadContent</key><array><dict>
  <key>PayloadType</key><string>com.apple.vpn.managed</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>$1.vpn</string>
  <key>PayloadUUID</key><string>$4</string>
  <key>UserDefinedName</key><string>$2</string>
  <key>VPNType</key><string>IKEv2</string>
  <key>IKEv2</key><dict>
    <key>RemoteAddress</key><string>$IKW_SRV_ADDR</string>
    <key>RemoteIdentifier</key><string>srv.ikeway.test</string>
    <key>LocalIdentifier</key><string>cli.ikeway.test</string>
    <key>AuthenticationMethod</key><string>SharedSecret</string>
    <key>SharedSecret</key><string>$PSK</string>
$extra
  </dict>
</dict></array>
</dict></plist>
PROFILE
}

ikw_profile_sa() { # IKE|Child ENCRYPTION INTEGRITY GROUP
    cat <<SA
    <key>$1SecurityAssociationParameters</key><dict>
      <key>EncryptionAlgorithm</key><string>$2</string>
      <key>IntegrityAlgorithm</key><string>$3</string>
      <key>DiffieHellmanGroup</key><integer>$4</integer>
    </dict>
SA
}
