#!/bin/sh
# Two ways to hand popfetch's mail to procmail.
#
# 1. As an MDA: one procmail per message; exit 0 means delivered, and an
#    exit of 75 (procmail's "try later") leaves the message on the server.
popfetch -u alice --delete --mda 'procmail -f %F' pop.example.org
#
# 2. As a stream: popfetch writes mboxrd on stdout, formail splits it.
#    Here a message counts as delivered once it is written to the pipe, so
#    prefer the MDA form together with --delete.
popfetch -u alice --stdout pop.example.org | formail -s procmail
